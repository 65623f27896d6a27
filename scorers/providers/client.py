"""Build an instructor client for a :class:`ModelSpec`.

Every structured call goes through instructor, which validates the answer against the
pydantic model and, on a validation error, asks again with the error text. OpenAI-compatible
models (OpenAI, any ``--base-url`` server such as vLLM, llama.cpp or ollama, and the
simulator) take a transport hook, through which every HTTP attempt is recorded and stored
answers are replayed. Other instructor providers (``anthropic/...``) are built by instructor
itself; their attempts are recorded from instructor's hooks and are not replayed.

OpenAI-compatible chat completions go through the SDK's documented low-level ``post`` rather
than ``client.chat.completions.create``: the same HTTP client, URL, body, errors and timeouts,
without importing the SDK's whole ``resources`` tree (about 0.7 s at every process start,
which a resumed run pays again) and without its per-request parameter transform, which walks
every base64 image string of the prompt (~10 % of a model run's CPU).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
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
Wrap = Callable[[httpx2.AsyncBaseTransport], httpx2.AsyncBaseTransport]


def openai_compatible(spec: ModelSpec) -> bool:
    return spec.simulated or spec.provider == "openai" or spec.base_url is not None


def build_client(
    spec: ModelSpec, *, timeout_s: float = 60.0, simulator: Any = None, wrap: Wrap | None = None
) -> instructor.AsyncInstructor:
    """An async instructor client; HTTP-level retries are off (the caller owns retry policy)."""
    import openai

    mode = _MODES[spec.mode] if spec.mode else None
    if openai_compatible(spec):
        inner: httpx2.AsyncBaseTransport
        base_url: str | None
        if spec.simulated:
            from scorers.providers.sim import SimulatedServer

            server = simulator if simulator is not None else SimulatedServer.default()
            inner = server.transport(spec.model)
            key, base_url = "simulated", "http://simulated.invalid/v1"
            default = instructor.Mode.TOOLS
        else:
            inner = httpx2.AsyncHTTPTransport()
            key, base_url = api_key(spec) or "none", spec.base_url
            default = instructor.Mode.MD_JSON if spec.base_url else instructor.Mode.TOOLS
        http = httpx2.AsyncClient(transport=wrap(inner) if wrap else inner, timeout=timeout_s)
        client = openai.AsyncOpenAI(api_key=key, base_url=base_url, http_client=http, max_retries=0, timeout=timeout_s)
        chosen = mode or default
        create = instructor.patch(create=chat_completions(client), mode=chosen)
        return instructor.AsyncInstructor(client=client, create=create, mode=chosen)
    kwargs: dict[str, Any] = {"async_client": True}
    if mode is not None:
        kwargs["mode"] = mode
    provider_key = api_key(spec)
    if provider_key is not None:
        kwargs["api_key"] = provider_key
    try:
        built: instructor.AsyncInstructor = instructor.from_provider(f"{spec.provider}/{spec.model}", **kwargs)
    except ImportError as exc:
        raise ModelError(f"the {spec.provider} provider needs its SDK: pip install {spec.provider} ({exc})") from None
    except Exception as exc:  # instructor raises ConfigurationError and friends
        raise ModelError(f"cannot use model {spec.name}: {exc}") from None
    return built


def chat_completions(client: Any) -> Callable[..., Awaitable[Any]]:
    """``POST /chat/completions`` with the given parameters, parsed as the SDK's ``ChatCompletion``."""
    from openai._base_client import make_request_options  # what the SDK's resources use for these
    from openai.types.chat import ChatCompletion

    async def create(**params: Any) -> ChatCompletion:
        if params.get("stream"):
            raise ModelError("streamed completions are not supported: labelgate reads whole answers")
        # request options, not body fields, as the SDK's own create treats them
        options = make_request_options(
            extra_headers=params.pop("extra_headers", None),
            extra_query=params.pop("extra_query", None),
            extra_body=params.pop("extra_body", None),
            **({"timeout": params.pop("timeout")} if "timeout" in params else {}),
        )
        completion: ChatCompletion = await client.post(
            "/chat/completions", cast_to=ChatCompletion, body=params, options=options
        )
        return completion

    return create
