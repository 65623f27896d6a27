"""Shared output for commands that list things: a table by default, or --json / --nl / --csv.

Machine output goes to stdout alone; progress and messages go to stderr.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # every command imports this module; only listing commands need pandas
    import pandas as pd


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Piped output is read by people too (CI logs, less): don't squeeze tables into 80 columns.
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, width=width, soft_wrap=False)


out = _console(False)
err = _console(True)


class Style(StrEnum):
    table = "table"
    json = "json"
    nl = "nl"
    csv = "csv"


def style_from(json_: bool, nl: bool, csv: bool) -> Style:
    if json_:
        return Style.json
    if nl:
        return Style.nl
    if csv:
        return Style.csv
    return Style.table


def _plain(value: Any) -> Any:
    import pandas as pd

    if value is None:
        return None
    if pd.api.types.is_scalar(value) and pd.isna(value):  # NaN, NaT, pd.NA: missing, not text
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            return value.item()
        except (ValueError, AttributeError):
            pass
    return value


def records(frame: pd.DataFrame, json_columns: Sequence[str] = ()) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for row in frame.to_dict("records"):
        clean = {str(k): _plain(v) for k, v in row.items()}
        for column in json_columns:
            if isinstance(clean.get(column), str):
                with contextlib.suppress(ValueError):
                    clean[column] = json.loads(clean[column])
        rows.append(clean)
    return rows


def emit(
    frame: pd.DataFrame,
    style: Style,
    *,
    title: str | None = None,
    columns: Sequence[str] | None = None,
    json_columns: Sequence[str] = (),
    empty: str = "nothing to show",
) -> None:
    """Print ``frame`` in the requested style."""
    if style is Style.json:
        sys.stdout.write(json.dumps(records(frame, json_columns), default=str, indent=2, ensure_ascii=False) + "\n")
        return
    if style is Style.nl:
        for row in records(frame, json_columns):
            sys.stdout.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
        return
    if style is Style.csv:
        frame.to_csv(sys.stdout, index=False)
        return
    if frame.empty:
        err.print(f"[dim]{empty}[/dim]")
        return
    import pandas as pd

    shown = frame[list(columns)] if columns else frame
    table = Table(title=title, header_style="bold", show_lines=False)
    for column in shown.columns:
        numeric = pd.api.types.is_numeric_dtype(shown[column])
        table.add_column(str(column), justify="right" if numeric else "left", overflow="fold")
    for values in shown.itertuples(index=False, name=None):
        table.add_row(*[Text(_cell(v)) for v in values])
    out.print(table)


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
