"""The simulated model provider: an in-process OpenAI-compatible server.

``sim:cheap`` and ``sim:capable`` answer chat-completion requests through a transport
plugged into the real ``openai`` client, so instructor's validation, re-asks, usage
accounting and our retry and timeout handling run exactly as with a hosted model. Nothing
leaves the process and no key is needed; every output says the model was simulated.

Answers come from the synthetic dataset's ground truth (``labelgate_truth.json``) when it
is there, with tier-dependent noise: the cheap tier is wrong more often and then reports
lower confidence (roughly calibrated, as a real model cascade relies on). Without ground
truth the simulator agrees with the annotation. Latency, error rate (429, 500, timeouts),
malformed-output rate, token counts and prices are configurable per tier. Randomness is
derived from a hash of (seed, tier, item, annotation, attempt), so runs are reproducible
whatever the concurrency.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx2

ATTEMPT_HEADER = "x-labelgate-attempt"
DATA_BLOCK = re.compile(r"<(annotation|item)>\s*(\{.*?\})\s*</\1>", re.S)
VISIBLE = {"v0-40": 0.3, "v40-60": 0.5, "v60-80": 0.7, "v80-100": 0.92}


@dataclass(frozen=True)
class Tier:
    """How one simulated model behaves and what it costs (USD per million tokens)."""

    name: str
    latency_s: float = 0.02
    jitter: float = 0.25
    error_rate: float = 0.0
    malformed_rate: float = 0.0
    noise: float = 0.1
    input_usd_per_mtok: float = 0.15
    output_usd_per_mtok: float = 0.60
    image_tokens: int = 255


TIERS: dict[str, Tier] = {
    "cheap": Tier("cheap", noise=0.06, malformed_rate=0.03, input_usd_per_mtok=0.15, output_usd_per_mtok=0.60),
    "capable": Tier(
        "capable", latency_s=0.05, noise=0.01, malformed_rate=0.01, input_usd_per_mtok=2.50, output_usd_per_mtok=10.00
    ),
}


@dataclass
class Truth:
    """Ground truth of a synthetic dataset, by annotation id."""

    annotations: dict[str, dict[str, Any]] = field(default_factory=dict)
    width: int = 640
    height: int = 480

    @classmethod
    def load(cls, path: Path) -> Truth:
        data = json.loads(path.read_text(encoding="utf-8"))
        spec = data.get("spec", {})
        return cls(data.get("annotations", {}), int(spec.get("width", 640)), int(spec.get("height", 480)))

    @classmethod
    def find(cls, dataset: str | Path) -> Truth | None:
        """The truth file next to a dataset file or inside a dataset folder, if any."""
        target = Path(dataset)
        folder = target if target.is_dir() else target.parent
        candidate = folder / "labelgate_truth.json"
        return cls.load(candidate) if candidate.is_file() else None


class SimulatedServer:
    """Answers OpenAI chat-completion requests for the simulated tiers."""

    def __init__(
        self, truth: Truth | None = None, tiers: Mapping[str, Tier] | None = None, seed: int = 0, keep_requests: int = 0
    ) -> None:
        self.truth = truth
        self.tiers = dict(tiers or TIERS)
        self.seed = seed
        self.requests = 0
        self.keep_requests = keep_requests
        self.received: list[dict[str, Any]] = []
        self._seen: dict[str, int] = {}

    @classmethod
    def default(cls) -> SimulatedServer:
        return cls()

    def tier(self, name: str) -> Tier:
        if name not in self.tiers:
            self.tiers[name] = replace(TIERS["cheap"], name=name)
        return self.tiers[name]

    def transport(self, tier: str) -> httpx2.MockTransport:
        profile = self.tier(tier)

        async def handle(request: httpx2.Request) -> httpx2.Response:
            return await self._respond(profile, request)

        return httpx2.MockTransport(handle)

    # --- one request --------------------------------------------------------------------
    async def _respond(self, tier: Tier, request: httpx2.Request) -> httpx2.Response:
        self.requests += 1
        body = json.loads(request.content)
        if len(self.received) < self.keep_requests:
            self.received.append(body)
        messages = body.get("messages", [])
        text = _all_text(messages)
        data = _data_block(text)
        attempt = self._attempt(request, body, tier, data)
        # A different prompt (another strategy, a re-ask with feedback) is a different question: it
        # gets its own draw. The same request (a transport retry, a rerun) gets the same answer.
        prompt = hashlib.sha256(text.encode()).hexdigest()[:16]
        rng = random.Random(
            _seed(self.seed, tier.name, data.get("item_id"), data.get("annotation_id"), attempt, prompt)
        )
        await asyncio.sleep(max(0.0, tier.latency_s * (1 + tier.jitter * (2 * rng.random() - 1))))
        if rng.random() < tier.error_rate:
            failure = rng.choice(("429", "500", "timeout"))
            if failure == "timeout":
                raise httpx2.ReadTimeout("simulated timeout", request=request)
            status = int(failure)
            headers = {"retry-after": "0"} if status == 429 else {}
            return httpx2.Response(status, headers=headers, json={"error": {"message": f"simulated {status}"}})
        schema = _schema(body)
        answer = self._answer(schema, data, tier, rng)
        if rng.random() < tier.malformed_rate:
            content = rng.choice(("I think the box looks fine.", json.dumps({**answer, **_broken(schema)})))
        else:
            content = json.dumps(answer)
        prompt_tokens = len(text) // 4 + tier.image_tokens * _images(messages)
        completion_tokens = max(1, len(content) // 4)
        return httpx2.Response(200, json=_completion(body, content, prompt_tokens, completion_tokens, tier))

    def _attempt(self, request: httpx2.Request, body: dict[str, Any], tier: Tier, data: dict[str, Any]) -> int:
        header = request.headers.get(ATTEMPT_HEADER)
        if header is not None and header.isdigit():
            base = int(header)
        else:
            key = f"{tier.name}|{data.get('item_id')}|{data.get('annotation_id')}"
            base = self._seen.get(key, 0)
            self._seen[key] = base + 1
        re_asks = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        return base * 10 + re_asks

    def _answer(self, schema: dict[str, Any], data: dict[str, Any], tier: Tier, rng: random.Random) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties", {})
        truth = self.truth.annotations.get(str(data.get("annotation_id"))) if self.truth else None
        answer: dict[str, Any] = {}
        wrong = False
        for name, prop in properties.items():
            if name == "confidence":
                continue
            value = self._true_value(name, prop, data, truth)
            if rng.random() < tier.noise:
                noisy = _other_value(prop, value, rng)
                wrong = wrong or noisy != value
                value = noisy
            answer[name] = value
        if "confidence" in properties:
            low, high = (0.3, 0.65) if wrong else (0.72, 0.99)
            answer["confidence"] = round(rng.uniform(low, high), 2)
        return answer

    def _true_value(self, name: str, prop: dict[str, Any], data: dict[str, Any], truth: dict[str, Any] | None) -> Any:
        enum = _enum(prop)
        label = data.get("label")
        if truth is not None:
            defect = truth.get("defect")
            if name in ("visible_class", "entity_type", "true_label", "label") and enum:
                return truth["label"] if truth["label"] in enum else enum[0]
            if name == "box_fit" and enum:
                wanted = {"loose_box": "loose", "zero_area": "no_object"}.get(defect or "", "tight")
                return wanted if wanted in enum else enum[0]
            if name == "occluded":
                return truth.get("visible") != "v80-100"
            if name == "truncated":
                x, y, w, h = truth["written_box"]
                return x <= 1 or y <= 1 or x + w >= self.truth.width - 1 or y + h >= self.truth.height - 1  # type: ignore[union-attr]
            if name == "visible_fraction":
                return 0.0 if defect == "zero_area" else VISIBLE.get(truth.get("visible", ""), 0.9)
        if enum:
            if label in enum:
                return label
            for preferred in ("tight", "correct", "yes", "ok"):
                if preferred in enum:
                    return preferred
            return enum[0]
        kind = prop.get("type")
        if kind == "boolean":
            return False
        if kind in ("number", "integer"):
            low, high = prop.get("minimum", 0.0), prop.get("maximum", 1.0)
            return round((low + high) / 2, 2) if name != "visible_fraction" else high
        return ""


def _enum(prop: dict[str, Any]) -> list[Any]:
    if "enum" in prop:
        return list(prop["enum"])
    if "const" in prop:
        return [prop["const"]]
    for option in prop.get("anyOf", []):
        if "enum" in option:
            return list(option["enum"])
    return []


def _other_value(prop: dict[str, Any], value: Any, rng: random.Random) -> Any:
    enum = _enum(prop)
    if enum:
        others = [v for v in enum if v != value]
        return rng.choice(others) if others else value
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        low, high = prop.get("minimum", 0.0), prop.get("maximum", 1.0)
        return round(rng.uniform(low, high), 2)
    return value


def _broken(schema: dict[str, Any]) -> dict[str, Any]:
    """A value that violates the schema: an enum value that doesn't exist, or a missing field."""
    for name, prop in schema.get("properties", {}).items():
        if _enum(prop):
            return {name: "not-a-valid-value"}
        if prop.get("type") in ("number", "integer") and "maximum" in prop:
            return {name: prop["maximum"] + 10}
    return {"unexpected_field": True}


def _all_text(messages: list[dict[str, Any]]) -> str:
    parts: list[str] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") == "text"]
    return "\n".join(parts)


def _images(messages: list[dict[str, Any]]) -> int:
    return sum(
        1
        for message in messages
        if isinstance(message.get("content"), list)
        for c in message["content"]
        if isinstance(c, dict) and c.get("type") == "image_url"
    )


def _data_block(text: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for _, payload in DATA_BLOCK.findall(text):
        try:
            found.update(json.loads(payload))
        except ValueError:
            continue
    return found


def _schema(body: dict[str, Any]) -> dict[str, Any]:
    tools = body.get("tools") or []
    if tools:
        return dict(tools[0].get("function", {}).get("parameters", {}))
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return dict(response_format.get("json_schema", {}).get("schema", {}))
    for message in body.get("messages", []):  # MD_JSON/JSON modes put the schema in the system prompt
        if message.get("role") != "system":
            continue
        content = message.get("content")
        texts = (
            [content] if isinstance(content, str) else [c.get("text", "") for c in content or [] if isinstance(c, dict)]
        )
        for text in texts:
            schema = _json_object_with(text, '"properties"')
            if schema:
                return schema
    return {}


def _json_object_with(text: str, marker: str) -> dict[str, Any]:
    """The first JSON object in ``text`` that contains ``marker``."""
    start = text.find("{")
    while start != -1:
        depth = 0
        for index in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            if depth == 0:
                candidate = text[start : index + 1]
                if marker in candidate:
                    try:
                        return dict(json.loads(candidate))
                    except ValueError:
                        break
                break
        start = text.find("{", start + 1)
    return {}


def _seed(*parts: Any) -> int:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _completion(
    body: dict[str, Any], content: str, prompt_tokens: int, completion_tokens: int, tier: Tier
) -> dict[str, Any]:
    tools = body.get("tools") or []
    message: dict[str, Any]
    if tools:
        name = tools[0]["function"]["name"]
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_sim", "type": "function", "function": {"name": name, "arguments": content}}],
        }
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": content}
        finish = "stop"
    return {
        "id": "sim-completion",
        "object": "chat.completion",
        "created": 0,
        "model": f"sim:{tier.name}",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
