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
    from engine.model_run import JudgeSetup
    from labelgate.api import (
        Run,
        audit_log,
        compare,
        export,
        findings,
        load_rulebook,
        open_run,
        report,
        resume,
        runs,
        score,
    )
    from scorers.judge.judge import JudgeSettings
    from scorers.providers.spec import parse_model
    from scorers.router import RouterConfig

_API = {
    "Run",
    "audit_log",
    "compare",
    "export",
    "findings",
    "load_rulebook",
    "open_run",
    "report",
    "resume",
    "runs",
    "score",
}
_MODELS = {
    "JudgeSetup": "engine.model_run",
    "JudgeSettings": "scorers.judge.judge",
    "RouterConfig": "scorers.router",
    "parse_model": "scorers.providers.spec",
}


def __getattr__(name: str) -> Any:
    if name in _API:
        from labelgate import api

        return getattr(api, name)
    if name in _MODELS:
        import importlib

        return getattr(importlib.import_module(_MODELS[name]), name)
    raise AttributeError(f"module 'labelgate' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "DatasetError",
    "ErrorCode",
    "ExportError",
    "JudgeSettings",
    "JudgeSetup",
    "LabelgateError",
    "ModelError",
    "ReviewError",
    "ReviewerError",
    "RouterConfig",
    "RulebookError",
    "Run",
    "RunError",
    "StaleReviewError",
    "StoreError",
    "__version__",
    "audit_log",
    "compare",
    "export",
    "findings",
    "load_rulebook",
    "open_run",
    "parse_model",
    "report",
    "resume",
    "runs",
    "score",
]
