"""labelgate: quality-assurance scoring for annotation datasets.

The public Python API; see the README for examples. Everything else is internal.
API functions are imported lazily so that ``labelgate.errors`` and ``labelgate.settings``,
which every package uses, can be imported without pulling in the whole engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labelgate.errors import (
    ConfigError,
    DatasetError,
    ErrorCode,
    ExportError,
    LabelgateError,
    ModelError,
    ReviewerError,
    ReviewError,
    RulebookError,
    RunError,
    StaleReviewError,
    StoreError,
)
from labelgate.version import __version__

if TYPE_CHECKING:
    from labelgate.api import Run, export, findings, load_rulebook, open_run, runs, score

_API = {"Run", "export", "findings", "load_rulebook", "open_run", "runs", "score"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from labelgate import api

        return getattr(api, name)
    raise AttributeError(f"module 'labelgate' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "DatasetError",
    "ErrorCode",
    "ExportError",
    "LabelgateError",
    "ModelError",
    "ReviewError",
    "ReviewerError",
    "RulebookError",
    "Run",
    "RunError",
    "StaleReviewError",
    "StoreError",
    "__version__",
    "export",
    "findings",
    "load_rulebook",
    "open_run",
    "runs",
    "score",
]
