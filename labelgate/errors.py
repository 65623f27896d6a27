"""The one exception hierarchy of labelgate.

Every error a user can cause derives from :class:`LabelgateError`. Its message is a single
line that names the file (and line or record) at fault and says what to do next; the CLI
prints it as-is and exits non-zero, never with a traceback.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable machine-readable codes, shown by ``--json`` outputs and kept across versions."""

    RULEBOOK = "rulebook"
    DATASET = "dataset"
    STORE = "store"
    RUN = "run"
    MODEL = "model"
    CONFIG = "config"
    EXPORT = "export"
    REVIEW = "review"


class LabelgateError(Exception):
    """Root of every labelgate error; ``str(err)`` is the one-line user message."""

    code: ErrorCode = ErrorCode.RUN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RulebookError(LabelgateError):
    """A rulebook cannot be loaded or compiled; carries every problem found, with lines."""

    code = ErrorCode.RULEBOOK

    def __init__(self, problems: list[RulebookProblem]) -> None:
        self.problems = problems
        first = problems[0].render() if problems else "invalid rulebook"
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(first + more)


class RulebookProblem:
    """One located problem in a rulebook file: ``file:line:col: message``."""

    def __init__(self, file: str, line: int | None, column: int | None, message: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.message = message

    def render(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"

    def __repr__(self) -> str:
        return f"RulebookProblem({self.render()!r})"


class DatasetError(LabelgateError):
    """The dataset as a whole cannot be read (single bad records are quarantined instead)."""

    code = ErrorCode.DATASET


class StoreError(LabelgateError):
    """The DuckDB store cannot be opened, migrated or queried."""

    code = ErrorCode.STORE


class RunError(LabelgateError):
    """A run cannot start, resume or finish as asked."""

    code = ErrorCode.RUN


class RunInterrupted(RunError):
    """Ctrl-C stopped a run; it is resumable and the message says how."""

    exit_code = 130

    def __init__(self, run_id: str, db: str) -> None:
        super().__init__(
            f"run {run_id} interrupted; what was committed is kept: resume it with "
            f"`labelgate resume {run_id} --db {db}`"
        )
        self.run_id = run_id


class ModelError(LabelgateError):
    """A model provider is misconfigured (missing key, unknown provider, bad base URL)."""

    code = ErrorCode.MODEL


class ConfigError(LabelgateError):
    """A setting or command-line option has an invalid value."""

    code = ErrorCode.CONFIG


class ExportError(LabelgateError):
    """An export or report cannot be written."""

    code = ErrorCode.EXPORT


class ReviewError(LabelgateError):
    """A review decision cannot be recorded as asked (unknown item, bad label, ...)."""

    code = ErrorCode.REVIEW


class ReviewerError(ReviewError):
    """A decision without a reviewer identity, or by someone whose role cannot decide."""


class StaleReviewError(ReviewError):
    """The item, its judgments or the rulebook changed since the reviewer saw it."""
