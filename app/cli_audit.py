"""``labelgate audit ...``: verify the hash chain of the audit log, and export it."""

from __future__ import annotations

from pathlib import Path

import typer

from app.output import err, out
from engine import audit as audit_log
from engine.store import Store
from labelgate.settings import DB

group = typer.Typer(help="Verify and export the audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="audit")


@group.command("verify")
def verify(db: Path = typer.Option(None, "--db", help="DuckDB file [env LABELGATE_DB].")) -> None:
    """Check the SHA-256 chain of the audit log; name the first broken entry and exit 1.

    Example: labelgate audit verify --db runs.duckdb
    """
    with Store(db or Path(DB.get())).read() as con:
        result = audit_log.verify(con)
    if result.ok:
        out.print(f"audit log ok: {result.entries:,} entries, chain intact")
        return
    err.print(f"error: audit log broken at entry {result.first_broken}: {result.problem}", markup=False, soft_wrap=True)
    raise typer.Exit(1)
