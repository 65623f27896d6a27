"""The only place API keys are read: from the environment, at client construction."""

from __future__ import annotations

import os

from labelgate.errors import ModelError
from scorers.providers.spec import ModelSpec


def api_key(spec: ModelSpec) -> str | None:
    """The key for ``spec``, or None when it needs none; a clear error when one is missing."""
    variable = spec.key_variable
    if variable is None:
        return None
    value = os.environ.get(variable)
    if value:
        return value
    if spec.base_url:
        return "none"  # local OpenAI-compatible servers usually ignore the key
    raise ModelError(
        f"No API key for {spec.provider}: set {variable}, or use --model sim:cheap to try "
        "labelgate with the simulated provider"
    )
