"""Commands that read runs: ``runs``, ``findings`` and ``export``."""

from __future__ import annotations

import shlex
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import typer

from app.output import emit, err, out, style_from
from engine import queries
from engine.store import Store
from labelgate.errors import ConfigError
from labelgate.settings import DB
from reports.export import FORMATS, TABLES, export, export_all
from rulebook.loader import load_stored

JSON_OPT = typer.Option(False, "--json", help="Output JSON.")
NL_OPT = typer.Option(False, "--nl", help="Output newline-delimited JSON.")
CSV_OPT = typer.Option(False, "--csv", help="Output CSV.")
DB_OPT = typer.Option(None, "--db", help="DuckDB file [env LABELGATE_DB].")


def register(app: typer.Typer) -> None:
    app.command("runs")(runs)
    app.command("findings")(findings)
    app.command("labels")(labels)
    app.command("export")(export_command)


def _db(db: Path | None) -> Path:
    return db or Path(DB.get())


def runs(db: Path = DB_OPT, json_: bool = JSON_OPT, nl: bool = NL_OPT, csv: bool = CSV_OPT) -> None:
    """List runs: id, dataset, rulebook version, counts and status.

    Example: labelgate runs --db runs.duckdb
    """
    with Store(_db(db)).read() as con:
        frame = queries.runs(con)
    style = style_from(json_, nl, csv)
    if style.value == "table" and not frame.empty:
        frame = frame.assign(
            dataset=frame["dataset_path"].map(lambda p: Path(p).name),
            rulebook=frame["rulebook_name"] + "@" + frame["rulebook_version"],
            items=frame["items_in"].astype(str) + " (" + frame["items_quarantined"].astype(str) + " q)",
            annotations=frame["annotations_in"].astype(str)
            + " ("
            + frame["annotations_quarantined"].astype(str)
            + " q)",
        )
        emit(
            frame.rename(columns={"needs_review": "review"}),
            style,
            title="runs",
            columns=[
                "run_id",
                "status",
                "dataset",
                "rulebook",
                "items",
                "annotations",
                "passed",
                "failed",
                "review",
                "findings",
            ],
        )
        return
    emit(frame, style, empty="no runs yet: run `labelgate score` or `labelgate demo`")


def findings(
    run: str = typer.Argument(..., help="Run id, a unique prefix of it, or 'latest'."),
    db: Path = DB_OPT,
    rule: str = typer.Option(None, "--rule", help="Only this rule id."),
    severity: str = typer.Option(None, "--severity", help="Only this severity."),
    item: str = typer.Option(None, "--item", help="Only this item id."),
    limit: int = typer.Option(None, "--limit", min=1, help="At most this many rows."),
    quarantined: bool = typer.Option(False, "--quarantined", help="List quarantined records instead."),
    json_: bool = JSON_OPT,
    nl: bool = NL_OPT,
    csv: bool = CSV_OPT,
) -> None:
    """Show the findings of a run (and its quarantined records).

    Example: labelgate findings latest --db runs.duckdb --severity critical
    """
    style = style_from(json_, nl, csv)
    with Store(_db(db)).read() as con:
        run_id = queries.resolve_run(con, run)
        if quarantined:
            emit(
                queries.quarantine(con, run_id, item=item),
                style,
                title=f"quarantined records of {run_id}",
                columns=["source", "locator", "level", "item_id", "annotation_id", "reason"],
                empty="no quarantined records",
            )
            return
        _check_filters(con, run_id, rule=rule, severity=severity)
        frame = queries.findings(con, run_id, rule=rule, severity=severity, item=item, limit=limit)
        quarantine = queries.quarantine(con, run_id, item=item)
    if style.value != "table":
        emit(frame, style, json_columns=["evidence"])
        return
    emit(
        frame.assign(human=[_human(row) for row in frame.to_dict("records")]),
        style,
        title=f"findings of run {run_id}",
        columns=["item_id", "annotation_id", "rule_id", "severity", "message", "item_decision", "human"],
        empty="no findings",
    )
    if not quarantine.empty:
        shown = quarantine.head(20)
        emit(
            shown,
            style,
            title=f"{len(quarantine)} quarantined record(s)",
            columns=["source", "locator", "level", "reason"],
        )
        if len(quarantine) > len(shown):
            only = f" --item {shlex.quote(item)}" if item is not None else ""
            err.print(f"... {len(quarantine) - len(shown)} more: labelgate findings {run_id} --quarantined{only}")


def _check_filters(con: Any, run_id: str, *, rule: str | None, severity: str | None) -> None:
    """A typo in ``--rule``/``--severity`` is an error listing the run's values, not an empty table."""
    if rule is None and severity is None:
        return
    known_rules, known_severities = _run_vocabulary(con, run_id)
    for option, value, known in (("--rule", rule, known_rules), ("--severity", severity, known_severities)):
        if value is not None and known and value not in known:
            raise ConfigError(
                f"{option} {value!r} is not in run {run_id}'s rulebook: use one of {', '.join(sorted(known))}"
            )


def _run_vocabulary(con: Any, run_id: str) -> tuple[set[str], set[str]]:
    """Rule ids and severities of the run's stored rulebook, plus any that its findings carry."""
    rules: set[str] = set()
    severities: set[str] = set()
    row = con.execute("SELECT rulebook_yaml FROM runs WHERE run_id = ?", [run_id]).fetchone()
    rulebook = load_stored(row[0] if row else None)
    if rulebook is not None:
        rules = {r.id for r in rulebook.rules}
        severities = set(rulebook.severities)
    for rule_id, severity in con.execute(
        "SELECT DISTINCT rule_id, severity FROM findings WHERE run_id = ?", [run_id]
    ).fetchall():
        rules.add(rule_id)
        severities.add(severity)
    return rules, severities


def _human(row: Mapping[Hashable, Any]) -> str:
    """The latest human decision on the finding's item, in a few words: ``fix_label → car (ana)``."""
    decision = row.get("review_decision")
    if not isinstance(decision, str):
        return ""
    label = row.get("corrected_label")
    fixed = f" #{row.get('review_annotation_id')} → {label}" if isinstance(label, str) else ""
    return f"{decision}{fixed} ({row.get('reviewer')})"


def labels(
    run: str = typer.Argument(..., help="Run id, a unique prefix of it, or 'latest'."),
    db: Path = DB_OPT,
    json_: bool = JSON_OPT,
    nl: bool = NL_OPT,
    csv: bool = CSV_OPT,
) -> None:
    """Show the class distribution of a run: annotations, items and share per label.

    Example: labelgate labels latest --db runs.duckdb
    """
    style = style_from(json_, nl, csv)
    with Store(_db(db)).read() as con:
        run_id = queries.resolve_run(con, run)
        frame = queries.label_counts(con, run_id)
    if style.value == "table" and not frame.empty:
        frame = frame.assign(share=frame["share"].map(lambda v: f"{v:.1%}"))
    emit(frame, style, title=f"labels of run {run_id}", empty="no annotations were scored")


def export_command(
    run: str = typer.Argument(..., help="Run id, a unique prefix of it, or 'latest'."),
    out_file: Path = typer.Option(..., "--out", "-o", help="File to write."),
    db: Path = DB_OPT,
    format: str = typer.Option(None, "--format", help=f"One of {', '.join(FORMATS)}; default from --out's extension."),
    table: str = typer.Option(
        "findings", "--table", help=f"What to export: {', '.join(TABLES)}, or all (--out is then a folder)."
    ),
) -> None:
    """Export a run's findings (or another table) to CSV, Parquet or JSONL.

    Example: labelgate export latest --db runs.duckdb --format parquet --out findings.parquet
    """
    if table == "all":
        for run_id, path, rows in export_all(_db(db), run, out_file, format=format or "parquet"):
            out.print(f"wrote {rows:,} row(s) of run {run_id} to {path}", soft_wrap=True)
        return
    run_id, path, rows = export(_db(db), run, out_file, format=format, table=table)
    out.print(f"wrote {rows:,} {table} row(s) of run {run_id} to {path}")
