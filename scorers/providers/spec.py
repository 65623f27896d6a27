"""Model specifications as users write them: ``sim:cheap``, ``openai/gpt-4o-mini``, ``ollama/llama3.2``.

A spec may carry a base URL (any OpenAI-compatible server, e.g. a local vLLM or llama.cpp)
and the instructor mode to use; servers without tool calling or JSON mode work with
``md_json``.
"""

from __future__ import annotations

from dataclasses import dataclass

from labelgate.errors import ModelError

MODES = ("tools", "json", "json_schema", "md_json")
KEY_VARIABLES = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "google": "GOOGLE_API_KEY",
    "gemini": "GOOGLE_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "together": "TOGETHER_API_KEY",
    "fireworks": "FIREWORKS_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
}
NO_KEY = {"ollama"}


@dataclass(frozen=True)
class ModelSpec:
    """Which model to call and how; ``simulated`` models are always labelled as such."""

    provider: str
    model: str
    base_url: str | None = None
    mode: str | None = None
    api_key_env: str | None = None

    @property
    def simulated(self) -> bool:
        return self.provider == "sim"

    @property
    def name(self) -> str:
        return f"sim:{self.model}" if self.simulated else f"{self.provider}/{self.model}"

    @property
    def key_variable(self) -> str | None:
        if self.api_key_env:
            return self.api_key_env
        if self.simulated or self.provider in NO_KEY:
            return None
        return KEY_VARIABLES.get(self.provider, f"{self.provider.upper()}_API_KEY")


def parse_model(
    text: str, *, base_url: str | None = None, mode: str | None = None, api_key_env: str | None = None
) -> ModelSpec:
    """Parse ``sim:TIER`` or ``PROVIDER/MODEL``; with a base URL, ``MODEL`` alone is fine."""
    value = text.strip()
    if mode is not None and mode not in MODES:
        raise ModelError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if value.startswith("sim:"):
        tier = value[4:]
        if not tier:
            raise ModelError("sim: needs a tier name, e.g. --model sim:cheap or sim:capable")
        return ModelSpec("sim", tier, mode=mode or "tools")
    if "/" in value:
        provider, _, model = value.partition("/")
        if not provider or not model:
            raise ModelError(f"model {text!r} must look like provider/model, e.g. openai/gpt-4o-mini")
        return ModelSpec(provider.lower(), model, base_url, mode, api_key_env)
    if base_url:  # a bare model name served by an OpenAI-compatible server
        return ModelSpec("openai", value, base_url, mode or "md_json", api_key_env or "LABELGATE_API_KEY")
    raise ModelError(
        f"model {text!r} must look like provider/model (e.g. openai/gpt-4o-mini), sim:cheap, "
        "or be used with --base-url for an OpenAI-compatible server"
    )
