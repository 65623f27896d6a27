"""Schema changes as named migrations, applied in order and recorded in ``schema_migrations``.

Never edit a migration that has shipped: add a new one. :func:`pending` is read-only.
Timestamps are UTC. Large tables have no primary keys (DuckDB appends are much faster
without index maintenance); the engine keeps ids unique.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

Migration = tuple[str, Callable[[duckdb.DuckDBPyConnection], None]]


def _m001_core(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            created_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            status VARCHAR NOT NULL,
            dataset_path VARCHAR NOT NULL,
            dataset_format VARCHAR NOT NULL,
            dataset_fingerprint VARCHAR,
            rulebook_name VARCHAR NOT NULL,
            rulebook_version VARCHAR NOT NULL,
            rulebook_fingerprint VARCHAR NOT NULL,
            rulebook_path VARCHAR,
            rulebook_yaml VARCHAR,
            judgment_fingerprint VARCHAR,
            rule_engine VARCHAR NOT NULL,
            labelgate_version VARCHAR NOT NULL,
            config JSON,
            items_in BIGINT DEFAULT 0,
            items_scored BIGINT DEFAULT 0,
            items_quarantined BIGINT DEFAULT 0,
            annotations_in BIGINT DEFAULT 0,
            annotations_scored BIGINT DEFAULT 0,
            annotations_quarantined BIGINT DEFAULT 0,
            passed BIGINT DEFAULT 0,
            failed BIGINT DEFAULT 0,
            needs_review BIGINT DEFAULT 0,
            findings BIGINT DEFAULT 0,
            duration_s DOUBLE,
            error VARCHAR
        )
    """)
    con.execute("""
        CREATE TABLE items (
            run_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            seq BIGINT NOT NULL,
            kind VARCHAR NOT NULL,
            source VARCHAR,
            media VARCHAR,
            width INTEGER,
            height INTEGER,
            text VARCHAR,
            annotation_count INTEGER NOT NULL,
            quarantined_annotations INTEGER NOT NULL,
            content_hash VARCHAR NOT NULL,
            state VARCHAR NOT NULL,
            measurements JSON,
            updated_at TIMESTAMP NOT NULL
        )
    """)
    con.execute("""
        CREATE TABLE annotations (
            run_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            annotation_id VARCHAR NOT NULL,
            seq INTEGER NOT NULL,
            label VARCHAR NOT NULL,
            x DOUBLE, y DOUBLE, w DOUBLE, h DOUBLE,
            span_start INTEGER, span_end INTEGER, span_text VARCHAR,
            attributes JSON,
            measurements JSON
        )
    """)
    con.execute("""
        CREATE TABLE findings (
            run_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            annotation_id VARCHAR,
            rule_id VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            clause VARCHAR NOT NULL,
            message VARCHAR NOT NULL,
            evidence JSON,
            penalty DOUBLE NOT NULL
        )
    """)
    con.execute("""
        CREATE TABLE scores (
            run_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            score DOUBLE NOT NULL,
            passed BOOLEAN NOT NULL,
            decision VARCHAR NOT NULL,
            findings INTEGER NOT NULL,
            penalty_total DOUBLE NOT NULL,
            review_reasons JSON,
            scored_at TIMESTAMP NOT NULL
        )
    """)
    con.execute("""
        CREATE TABLE quarantine (
            run_id VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            locator VARCHAR NOT NULL,
            level VARCHAR NOT NULL,
            item_id VARCHAR,
            annotation_id VARCHAR,
            reason VARCHAR NOT NULL,
            raw VARCHAR
        )
    """)
    con.execute("""
        CREATE TABLE escalations (
            run_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            annotation_id VARCHAR,
            check_id VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            evidence JSON,
            escalated_at TIMESTAMP NOT NULL
        )
    """)
    con.execute("""
        CREATE TABLE chunks (
            run_id VARCHAR NOT NULL,
            chunk_no INTEGER NOT NULL,
            items INTEGER NOT NULL,
            annotations INTEGER NOT NULL,
            committed_at TIMESTAMP NOT NULL
        )
    """)


def _m002_model_path(con: duckdb.DuckDBPyConnection) -> None:
    """Model calls: every attempt, accepted judgments, routing decisions, the response cache."""
    con.execute("""
        CREATE TABLE attempts (
            run_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            annotation_id VARCHAR,
            call_no INTEGER NOT NULL,
            attempt_no INTEGER NOT NULL,
            strategy VARCHAR NOT NULL,
            tier VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            simulated BOOLEAN NOT NULL,
            request_hash VARCHAR NOT NULL,
            outcome VARCHAR NOT NULL,
            error VARCHAR,
            response VARCHAR,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cost_usd DOUBLE,
            latency_ms DOUBLE,
            cached BOOLEAN NOT NULL,
            started_at TIMESTAMP NOT NULL
        )
    """)
    con.execute("""
        CREATE TABLE judgments (
            run_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            annotation_id VARCHAR,
            tier VARCHAR,
            model VARCHAR,
            strategy VARCHAR,
            status VARCHAR NOT NULL,
            reason VARCHAR,
            "values" JSON,
            confidence DOUBLE,
            request_hash VARCHAR
        )
    """)
    con.execute("""
        CREATE TABLE routes (
            run_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            tier VARCHAR NOT NULL,
            reasons JSON,
            judged_annotations INTEGER NOT NULL,
            estimated_cost_usd DOUBLE,
            cost_usd DOUBLE
        )
    """)
    con.execute("""
        CREATE TABLE response_cache (
            request_hash VARCHAR PRIMARY KEY,
            model VARCHAR NOT NULL,
            response VARCHAR NOT NULL,
            input_tokens INTEGER,
            output_tokens INTEGER,
            created_at TIMESTAMP NOT NULL
        )
    """)
    con.execute("ALTER TABLE runs ADD COLUMN models VARCHAR")
    con.execute("ALTER TABLE runs ADD COLUMN simulated BOOLEAN DEFAULT false")
    con.execute("ALTER TABLE runs ADD COLUMN cost_usd DOUBLE DEFAULT 0")
    con.execute("ALTER TABLE runs ADD COLUMN model_attempts BIGINT DEFAULT 0")


def _m003_review_audit(con: duckdb.DuckDBPyConnection) -> None:
    """Human review decisions and the append-only, hash-chained audit log."""
    con.execute("""
        CREATE TABLE reviews (
            review_id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            annotation_id VARCHAR,
            reviewer VARCHAR NOT NULL,
            role VARCHAR NOT NULL,
            decision VARCHAR NOT NULL,
            corrected_label VARCHAR,
            comment VARCHAR,
            bound_hash VARCHAR NOT NULL,
            decided_at TIMESTAMP NOT NULL
        )
    """)
    con.execute("""
        CREATE TABLE audit_log (
            seq BIGINT PRIMARY KEY,
            ts TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL,
            event VARCHAR NOT NULL,
            run_id VARCHAR,
            payload JSON NOT NULL,
            prev_hash VARCHAR NOT NULL,
            hash VARCHAR NOT NULL
        )
    """)


def _m004_review_decisions(con: duckdb.DuckDBPyConnection) -> None:
    """What a review decision overrode, its order, and views for analysing decisions.

    ``audit_seq`` links a review to its audit-log entry and orders decisions (the latest wins;
    earlier ones stay as history). ``model_decision``/``model_score``/``original_label``
    snapshot what the person saw when deciding. Views: ``current_reviews`` (the latest
    decision per item), ``review_log`` (every decision next to the model's) and
    ``review_overrides`` (current decisions that disagree with the model or fix a label).
    """
    con.execute("ALTER TABLE reviews ADD COLUMN audit_seq BIGINT")
    con.execute("ALTER TABLE reviews ADD COLUMN identity VARCHAR")
    con.execute("ALTER TABLE reviews ADD COLUMN model_decision VARCHAR")
    con.execute("ALTER TABLE reviews ADD COLUMN model_score DOUBLE")
    con.execute("ALTER TABLE reviews ADD COLUMN original_label VARCHAR")
    con.execute("""
        CREATE VIEW current_reviews AS
        SELECT review_id, run_id, item_id, annotation_id, reviewer, role, identity, decision,
               corrected_label, comment, bound_hash, decided_at, audit_seq
        FROM reviews
        QUALIFY row_number() OVER (
            PARTITION BY run_id, item_id ORDER BY audit_seq DESC NULLS LAST, decided_at DESC, review_id DESC
        ) = 1
    """)
    con.execute("""
        CREATE VIEW review_log AS
        SELECT r.review_id, r.run_id, r.item_id, r.annotation_id,
               coalesce(r.model_decision, s.decision) AS model_decision,
               coalesce(r.model_score, s.score) AS model_score,
               CASE WHEN s.passed IS NULL THEN NULL WHEN s.passed THEN 'pass' ELSE 'fail' END AS model_verdict,
               r.decision AS human_decision,
               CASE r.decision WHEN 'accept' THEN 'pass' ELSE 'fail' END AS human_verdict,
               r.original_label, r.corrected_label, r.reviewer, r.role, r.identity, r.comment,
               r.bound_hash, r.decided_at, r.audit_seq,
               (c.review_id IS NOT NULL) AS is_current,
               (r.decision = 'fix_label'
                OR (r.decision = 'accept') IS DISTINCT FROM s.passed) AS overrides
        FROM reviews r
        LEFT JOIN scores s ON s.run_id = r.run_id AND s.item_id = r.item_id
        LEFT JOIN current_reviews c ON c.review_id = r.review_id
    """)
    con.execute("CREATE VIEW review_overrides AS SELECT * FROM review_log WHERE is_current AND overrides")


def _m005_item_states(con: duckdb.DuckDBPyConnection) -> None:
    """Every item's state, derived from the durable facts rather than stored a second time.

    pending and measured are not persisted: measuring is deterministic and cheap, and a resume
    redoes it. Paid work is: ``judging`` (model attempts recorded, item not committed yet),
    ``scored`` or ``needs_review`` (the item's row), ``reviewed`` (a human decision is current)
    and ``quarantined`` (an item-level quarantine record; a record without a usable id is named
    by its file and place in it, e.g. ``annotations.json images[20]``).
    """
    con.execute("""
        CREATE VIEW item_states AS
        SELECT i.run_id, i.item_id,
               CASE WHEN c.review_id IS NOT NULL THEN 'reviewed' ELSE i.state END AS state,
               coalesce(c.decided_at, i.updated_at) AS since
        FROM items i LEFT JOIN current_reviews c USING (run_id, item_id)
        UNION ALL
        SELECT a.run_id, a.item_id, 'judging' AS state, max(a.started_at) AS since
        FROM attempts a ANTI JOIN items i ON i.run_id = a.run_id AND i.item_id = a.item_id
        GROUP BY a.run_id, a.item_id
        UNION ALL
        SELECT q.run_id, coalesce(q.item_id, q.source || ' ' || q.locator) AS item_id, 'quarantined' AS state,
               NULL::TIMESTAMP AS since
        FROM quarantine q WHERE q.level = 'item'
    """)


def _m006_run_owner(con: duckdb.DuckDBPyConnection) -> None:
    """The process driving a run (``engine.ownership``): one at a time, checked at every commit."""
    con.execute("ALTER TABLE runs ADD COLUMN owner VARCHAR")


def _m007_judgment_journal(con: duckdb.DuckDBPyConnection) -> None:
    """Finished judgments of items not committed yet (:mod:`scorers.judge.journal`).

    Rows live from a judgment's flush to its item's commit, which deletes them: a killed run
    leaves only those of the items it had in hand, and its resume takes them as they were.
    """
    con.execute("""
        CREATE TABLE judgment_journal (
            run_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            target INTEGER NOT NULL,
            journal_key VARCHAR NOT NULL,
            record JSON NOT NULL,
            created_at TIMESTAMP NOT NULL
        )
    """)


MIGRATIONS: list[Migration] = [
    ("001_core", _m001_core),
    ("002_model_path", _m002_model_path),
    ("003_review_audit", _m003_review_audit),
    ("004_review_decisions", _m004_review_decisions),
    ("005_item_states", _m005_item_states),
    ("006_run_owner", _m006_run_owner),
    ("007_judgment_journal", _m007_judgment_journal),
]


def applied(con: duckdb.DuckDBPyConnection) -> set[str]:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchall()
    if not exists or not exists[0][0]:
        return set()
    return {row[0] for row in con.execute("SELECT name FROM schema_migrations").fetchall()}


def pending(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of migrations not yet applied (read-only)."""
    done = applied(con)
    return [name for name, _ in MIGRATIONS if name not in done]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every pending migration, each in its own transaction; returns their names."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)")
    done = applied(con)
    ran: list[str] = []
    for name, apply in MIGRATIONS:
        if name in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            apply(con)
            con.execute("INSERT INTO schema_migrations VALUES (?, now()::TIMESTAMP)", [name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        ran.append(name)
    return ran
