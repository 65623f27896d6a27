"""labelgate: quality-assurance scoring for annotation datasets.

The public Python API; see the README for examples. Everything else is internal.
"""

from labelgate.api import Run, export, findings, load_rulebook, open_run, runs, score
from labelgate.errors import (
    ConfigError,
    DatasetError,
    ErrorCode,
    ExportError,
    LabelgateError,
    ModelError,
    RulebookError,
    RunError,
    StoreError,
)
from labelgate.version import __version__

__all__ = [
    "ConfigError",
    "DatasetError",
    "ErrorCode",
    "ExportError",
    "LabelgateError",
    "ModelError",
    "RulebookError",
    "Run",
    "RunError",
    "StoreError",
    "__version__",
    "export",
    "findings",
    "load_rulebook",
    "open_run",
    "runs",
    "score",
]
