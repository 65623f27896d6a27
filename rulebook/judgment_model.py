"""The strict pydantic model a model's judgment must parse into, generated from the rulebook.

``extra="forbid"``, enum fields as ``Literal`` values, numbers with their range, text with a
length cap: anything else is a validation error that goes back to the model as feedback.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from rulebook.fingerprint import sha256_of
from rulebook.model import JudgmentField, Rulebook


class JudgmentBase(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


def _field(spec: JudgmentField, taxonomy: list[str]) -> tuple[Any, Any]:
    if spec.type == "enum":
        values = tuple(taxonomy if spec.values_from == "taxonomy" else (spec.values or []))
        return (Literal[values], Field(description=spec.question))
    if spec.type == "bool":
        return (bool, Field(description=spec.question))
    if spec.type == "number":
        return (float, Field(description=spec.question, ge=spec.min, le=spec.max))
    return (str, Field(description=spec.question, max_length=spec.max_length))


def judgment_model(rulebook: Rulebook) -> type[JudgmentBase] | None:
    """The judgment model for this rulebook, or None when it asks no judgments."""
    if rulebook.judgments is None:
        return None
    fields = {name: _field(spec, rulebook.taxonomy.labels) for name, spec in rulebook.judgments.fields.items()}
    name = "".join(part.capitalize() for part in rulebook.rulebook.replace("-", "_").split("_"))
    model: type[JudgmentBase] = create_model(  # type: ignore[call-overload]
        f"{name}Judgment", __base__=JudgmentBase, **fields
    )
    model.__doc__ = rulebook.judgments.instructions or f"Judgment for {rulebook.rulebook}"
    return model


def judgment_schema(rulebook: Rulebook) -> dict[str, Any] | None:
    model = judgment_model(rulebook)
    return model.model_json_schema() if model else None


def judgment_fingerprint(rulebook: Rulebook) -> str | None:
    schema = judgment_schema(rulebook)
    return "sha256:" + sha256_of(schema) if schema else None
