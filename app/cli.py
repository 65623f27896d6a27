"""The ``labelgate`` command line. Command groups live in their own modules under ``app/``.

Every domain error becomes a one-line message on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from app import cli_query, cli_report, cli_review, cli_rulebook, cli_score, cli_trace
from app.output import err
from labelgate.errors import LabelgateError, RulebookError
from labelgate.version import __version__

app = typer.Typer(
    name="labelgate",
    help="Quality-assurance scoring for annotation datasets.\n\n"
    "Example: labelgate demo, then labelgate score DATA --rulebook RULES.yaml --db runs.duckdb",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"max_content_width": 120},
)


def _version(value: bool) -> None:
    if value:
        print(f"labelgate {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """labelgate: rulebooks decide, models only extract judgments."""


cli_score.register(app)
cli_query.register(app)
cli_rulebook.register(app)
cli_trace.register(app)
cli_report.register(app)
cli_review.register(app)


def report_error(exc: LabelgateError) -> None:
    if isinstance(exc, RulebookError) and len(exc.problems) > 1:
        for problem in exc.problems:
            err.print(f"error: {problem.render()}", markup=False, highlight=False, soft_wrap=True)
    else:
        err.print(f"error: {exc.message}", markup=False, highlight=False, soft_wrap=True)


def main() -> None:
    """Console-script entry point: usage errors are typer's; domain errors are one line."""
    try:
        app()
    except LabelgateError as exc:
        report_error(exc)
        sys.exit(getattr(exc, "exit_code", 1))


if __name__ == "__main__":
    main()
