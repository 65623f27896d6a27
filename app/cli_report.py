"""Commands for auditors: ``report`` (one run, or ``--compare`` two) and ``audit`` (verify, list, export)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from app.output import emit, err, out, style_from
from engine.audit import Anchor, verify
from engine.queries import resolve_run
from engine.store import Store
from labelgate.settings import DB
from reports.export import FORMATS

DB_OPT = typer.Option(None, "--db", help="DuckDB file [env LABELGATE_DB].")

audit_app = typer.Typer(
    help="The hash-chained audit log: verify it, list entries, export it.\n\n"
    "Example: labelgate audit verify --db runs.duckdb",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.add_typer(audit_app, name="audit")


def _db(db: Path | None) -> Path:
    return db or Path(DB.get())


def report(
    run: str = typer.Argument(None, help="Run id, a unique prefix of it, or 'latest' (not with --compare)."),
    out_file: Path = typer.Option(
        None, "--out", "-o", help="HTML file to write [default: labelgate-report-RUN.html; with --compare: none]."
    ),
    db: Path = DB_OPT,
    compare: tuple[str, str] = typer.Option(
        None, "--compare", metavar="RUN_A RUN_B", help="Compare two runs: rulebook diff, rule counts, flipped items."
    ),
    examples: int = typer.Option(3, "--examples", min=0, max=20, help="Example items shown per rule."),
    json_: bool = typer.Option(False, "--json", help="With --compare: print the comparison as JSON on stdout."),
) -> None:
    """Write a self-contained HTML audit report of a run, or compare two runs.

    Example: labelgate report latest --db runs.duckdb --out report.html

    With --compare RUN_A RUN_B: what changed from A to B (rulebook diff, per-rule counts,
    items whose decision flipped), as text or --json on stdout and as HTML with --out.
    """
    database = _db(db)
    if compare:
        if run is not None:
            raise typer.BadParameter("give either RUN or --compare RUN_A RUN_B, not both", param_hint="RUN")
        from reports.compare import compare_report, summary_text

        comparison = compare_report(database, compare[0], compare[1], out_file)
        if json_:
            print(json.dumps(comparison.as_dict(), default=str, indent=2, ensure_ascii=False))
        else:
            out.print(summary_text(comparison), markup=False, highlight=False, soft_wrap=True)
        if out_file is not None:
            err.print(f"wrote {out_file}", markup=False, highlight=False, soft_wrap=True)
        return
    if json_:
        raise typer.BadParameter("--json goes with --compare", param_hint="--json")
    if run is None:
        raise typer.BadParameter("name a run (or 'latest'), or use --compare RUN_A RUN_B", param_hint="RUN")
    from reports.html import report as write_report

    with Store(database).read() as con:
        run_id = resolve_run(con, run)
    target = out_file or Path(f"labelgate-report-{run_id}.html")
    written = write_report(database, run_id, target, per_rule=examples)
    chain = "verified" if written.audit_ok else "BROKEN (see the report)"
    out.print(
        f"wrote the report of run {written.run_id} to {written.path} (audit chain {chain}, "
        f"{written.audit_entries} entries)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if not written.audit_ok:
        raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify(
    db: Path = DB_OPT,
    anchor: list[str] = typer.Option(
        None, "--anchor", metavar="SEQ:HASH", help="An earlier printed head: that entry must still be there (repeat)."
    ),
    json_: bool = typer.Option(False, "--json", help="Output JSON."),
) -> None:
    """Recompute the audit log's hash chain; exit 1 and name the first broken entry if it fails.

    It prints the head (last entry and its hash): keep it outside the database (a ticket, the
    report), and pass it back with --anchor to prove later that no entry was cut off the end.

    Example: labelgate audit verify --db runs.duckdb --anchor 53:9f2c4e1a77b0d3e5
    """
    try:
        anchors = [Anchor.parse(text) for text in anchor or []]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--anchor") from None
    with Store(_db(db)).read() as con:
        result = verify(con, anchors)
    if json_:
        print(json.dumps(result.__dict__))
    elif result.ok:
        anchored = f"; {len(anchors)} anchor(s) found" if anchors else ""
        out.print(
            f"audit log verified: {result.entries} entries, chain intact{anchored}"
            + (
                f"\nhead: {result.head} (keep it: `--anchor {result.head}` later proves no entry up to it was removed)"
                if result.head
                else ""
            ),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    else:
        err.print(
            f"error: audit log BROKEN at entry {result.first_broken}: {result.problem}", markup=False, soft_wrap=True
        )
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("list")
def audit_list(
    db: Path = DB_OPT,
    run: str = typer.Option(None, "--run", help="Only entries of this run (id, prefix or 'latest')."),
    event: str = typer.Option(None, "--event", help="Only this event (export, review, ...)."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many entries, newest first."),
    json_: bool = typer.Option(False, "--json", help="Output JSON."),
    nl: bool = typer.Option(False, "--nl", help="Output newline-delimited JSON."),
    csv: bool = typer.Option(False, "--csv", help="Output CSV."),
) -> None:
    """List audit log entries, newest first.

    Example: labelgate audit list --db runs.duckdb --run latest --event export
    """
    with Store(_db(db)).read() as con:
        where, params = [], []
        if run is not None:
            where.append("run_id = ?")
            params.append(resolve_run(con, run))
        if event is not None:
            where.append("event = ?")
            params.append(event)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        frame = con.execute(
            f"SELECT seq, ts, actor, event, run_id, payload, hash FROM audit_log {clause} "
            f"ORDER BY seq DESC LIMIT {int(limit)}",
            params,
        ).df()
    emit(frame, style_from(json_, nl, csv), title="audit log", json_columns=["payload"], empty="no audit entries")


@audit_app.command("export")
def audit_export(
    out_file: Path = typer.Option(..., "--out", "-o", help="File to write."),
    db: Path = DB_OPT,
    format: str = typer.Option(None, "--format", help=f"One of {', '.join(FORMATS)}; default from --out's extension."),
) -> None:
    """Export the whole audit log (every run, in sequence order) to CSV, Parquet or JSONL.

    Example: labelgate audit export --db runs.duckdb --out audit.parquet
    """
    from reports.export import export_audit

    rows = export_audit(_db(db), out_file, format=format)
    out.print(f"wrote {rows:,} audit log entries to {out_file}", markup=False, highlight=False, soft_wrap=True)
