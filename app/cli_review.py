"""Commands for human review: ``review`` (the Streamlit screen) and ``reviews`` (decisions)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import typer

from app.output import emit, err, out, style_from
from engine import queries
from engine.review import reviews as review_rows
from engine.reviewers import hash_token, load_directory
from engine.store import Store
from labelgate.errors import ConfigError
from labelgate.settings import DB

HOST = "127.0.0.1"
SCRIPT = Path(__file__).with_name("review_app.py")
DB_OPT = typer.Option(None, "--db", help="DuckDB file [env LABELGATE_DB].")


def register(app: typer.Typer) -> None:
    app.command("review")(review)
    app.command("reviews")(reviews)


def _free_port(wanted: int) -> int:
    """``wanted`` if it is free on 127.0.0.1, else any free port (0 means any)."""
    for port in (wanted, 0) if wanted else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise ConfigError(f"no free port on {HOST}: pass --port")


def streamlit_command(port: int) -> list[str]:
    """The ``streamlit run`` command line of the review screen (local only, no telemetry)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(SCRIPT),
        "--server.address",
        HOST,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--browser.serverAddress",
        HOST,
        "--client.toolbarMode",
        "minimal",
        "--theme.base",
        "light",
    ]


def review(
    db: Path = DB_OPT,
    reviewers_file: Path = typer.Option(
        None, "--reviewers", help="Reviewers file (TOML) [env LABELGATE_REVIEWERS; default <home>/reviewers.toml]."
    ),
    port: int = typer.Option(8501, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)."),
    hash_token_: bool = typer.Option(
        False, "--hash-token", help="Read a shared token and print the token_hash line for the reviewers file."
    ),
) -> None:
    """Start the review screen (Streamlit) on 127.0.0.1 and print its URL.

    Example: labelgate review --db runs.duckdb --reviewers reviewers.toml
    """
    if hash_token_:
        token = typer.prompt("shared token", hide_input=True, confirmation_prompt=sys.stdin.isatty(), err=True)
        out.print(f'token_hash = "{hash_token(token.strip())}"', markup=False, highlight=False, soft_wrap=True)
        return
    database = (db or Path(DB.get())).resolve()
    with Store(database).read() as con:  # fails now, in one line, if the file is missing or unusable
        count = len(queries.runs(con))
    env = {**os.environ, "LABELGATE_DB": str(database)}
    if reviewers_file is not None:
        env["LABELGATE_REVIEWERS"] = str(reviewers_file.resolve())
    directory = load_directory(reviewers_file)  # a broken reviewers file fails here, not in the browser
    chosen = _free_port(port)
    url = f"http://{HOST}:{chosen}"
    who = f"reviewers from {directory.path}" if directory is not None else "reviewers type their name"
    err.print(f"review screen for {database} ({count} run(s)); {who}", markup=False, highlight=False, soft_wrap=True)
    out.print(f"open {url}", markup=False, highlight=False, soft_wrap=True)
    err.print("press Ctrl+C to stop", markup=False, highlight=False)
    sys.stdout.flush()
    raise typer.Exit(_serve(streamlit_command(chosen), env))


def _serve(command: list[str], env: dict[str, str]) -> int:
    """Run the Streamlit server until it stops; Ctrl+C or SIGTERM stop it too."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        return proc.wait()
    except KeyboardInterrupt:  # the server got the same Ctrl+C: give it a moment to close
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def reviews(
    run: str = typer.Argument(..., help="Run id, a unique prefix of it, or 'latest'."),
    db: Path = DB_OPT,
    history: bool = typer.Option(False, "--all", help="Every decision, not only the current one per item."),
    overrides: bool = typer.Option(False, "--overrides", help="Only decisions that overrule the model."),
    json_: bool = typer.Option(False, "--json", help="Output JSON."),
    nl: bool = typer.Option(False, "--nl", help="Output newline-delimited JSON."),
    csv: bool = typer.Option(False, "--csv", help="Output CSV."),
) -> None:
    """List human decisions of a run next to the model's decision (overrides first-class).

    Example: labelgate reviews latest --db runs.duckdb --overrides
    """
    style = style_from(json_, nl, csv)
    with Store(db or Path(DB.get())).read() as con:
        run_id = queries.resolve_run(con, run)
        frame = review_rows(con, run_id, history=history, overrides_only=overrides)
    empty = "no human decisions yet: `labelgate review` opens the review screen"
    if style.value != "table" or frame.empty:
        emit(frame, style, empty=empty)
        return
    rows = frame.to_dict("records")
    shown = frame.assign(
        model=[f"{r['model_decision']} ({r['model_verdict']})" for r in rows],
        human=[_human(r) for r in rows],
        decided=[f"{r['decided_at']:%Y-%m-%d %H:%M}" for r in rows],
    )
    emit(
        shown,
        style,
        title=f"human decisions of run {run_id}",
        columns=["item_id", "model", "human", "overrides", "reviewer", "decided", "bound", "comment"],
    )


def _human(row: Mapping[Hashable, Any]) -> str:
    if row["human_decision"] != "fix_label":
        return str(row["human_decision"])
    return f"fix_label #{row['annotation_id']}: {row['original_label']} → {row['corrected_label']}"
