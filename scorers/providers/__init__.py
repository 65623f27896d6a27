"""Model providers: any instructor provider, any OpenAI-compatible URL, and the simulator.

API keys are read from the environment here and nowhere else; they never enter prompts,
the database, traces, logs or exports.
"""

import logging

from scorers.providers.client import build_client
from scorers.providers.spec import ModelSpec, parse_model

# instructor logs every failed attempt at ERROR level; we record attempts ourselves and report
# failures as one-line errors, so keep its log records off the user's terminal.
logging.getLogger("instructor").addHandler(logging.NullHandler())

__all__ = ["ModelSpec", "build_client", "parse_model"]
