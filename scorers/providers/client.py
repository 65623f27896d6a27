"""Build an instructor client for a :class:`ModelSpec`.

Every structured call goes through instructor, which validates the answer against the
pydantic model and, on a validation error, asks again with the error text. The simulated
provider is an in-process OpenAI-compatible transport, so it exercises this same path.
"""

from __future__ import annotations

from typing import Any

import instructor

from labelgate.errors import ModelError
from scorers.providers.credentials import api_key
from scorers.providers.spec import ModelSpec

_MODES = {
    "tools": instructor.Mode.TOOLS,
    "json": instructor.Mode.JSON,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "md_json": instructor.Mode.MD_JSON,
}


def build_client(spec: ModelSpec, *, timeout_s: float = 60.0, simulator: Any = None) -> instructor.AsyncInstructor:
    """An async instructor client; HTTP-level retries are off (the caller owns retry policy)."""
    import openai

    mode = _MODES[spec.mode] if spec.mode else None
    if spec.simulated:
        import httpx2

        from scorers.providers.sim import SimulatedServer

        server = simulator if simulator is not None else SimulatedServer.default()
        http = httpx2.AsyncClient(transport=server.transport(spec.model), timeout=timeout_s)
        client = openai.AsyncOpenAI(
            api_key="simulated",
            base_url="http://simulated.invalid/v1",
            http_client=http,
            max_retries=0,
            timeout=timeout_s,
        )
        return instructor.from_openai(client, mode=mode or instructor.Mode.MD_JSON)
    key = api_key(spec)
    if spec.base_url or spec.provider == "openai":
        client = openai.AsyncOpenAI(api_key=key, base_url=spec.base_url, max_retries=0, timeout=timeout_s)
        default = instructor.Mode.MD_JSON if spec.base_url else instructor.Mode.TOOLS
        return instructor.from_openai(client, mode=mode or default)
    kwargs: dict[str, Any] = {"async_client": True}
    if mode is not None:
        kwargs["mode"] = mode
    if key is not None:
        kwargs["api_key"] = key
    try:
        built: instructor.AsyncInstructor = instructor.from_provider(f"{spec.provider}/{spec.model}", **kwargs)
        return built
    except ImportError as exc:
        raise ModelError(f"the {spec.provider} provider needs its SDK: pip install {spec.provider} ({exc})") from None
    except Exception as exc:  # instructor raises ConfigurationError and friends
        raise ModelError(f"cannot use model {spec.name}: {exc}") from None
