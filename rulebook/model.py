"""The rulebook schema: what a QA lead writes in YAML, validated strictly by pydantic.

Unknown keys are errors (``extra="forbid"``) so a typo never silently disables a rule.
Conditions are kept as text here; :mod:`rulebook.compiler` turns them into executable rules.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

AppliesTo = Literal["image_boxes", "text_classification", "text_spans"]
DEFAULT_PENALTIES: dict[str, float] = {"critical": 100.0, "major": 25.0, "minor": 5.0, "info": 0.0}
RULE_ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Guideline(Strict):
    """The written source every clause cites."""

    title: str
    url: str | None = None
    version: str | None = None


class Taxonomy(Strict):
    """Allowed labels, with optional aliases (``alias: label``) and parents (``label: group``)."""

    labels: list[str] = Field(min_length=1)
    aliases: dict[str, str] = Field(default_factory=dict)
    parents: dict[str, str] = Field(default_factory=dict)

    @field_validator("labels", "aliases", "parents", mode="before")
    @classmethod
    def _integer_labels_are_names(cls, value: Any) -> Any:
        """Class ids written as numbers (``labels: [0, 1]``) name the labels a dataset writes as ``0``, ``1``."""

        def name(v: Any) -> Any:
            return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

        if isinstance(value, list):
            return [name(v) for v in value]
        if isinstance(value, dict):
            return {name(k): name(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Taxonomy:
        dupes = sorted({x for x in self.labels if self.labels.count(x) > 1})
        if dupes:
            raise ValueError(f"taxonomy label(s) listed twice: {', '.join(dupes)}")
        known = set(self.labels)
        for alias, target in self.aliases.items():
            if target not in known:
                raise ValueError(f"alias {alias!r} points to {target!r}, which is not a label")
        for child in self.parents:
            if child not in known and child not in self.parents.values():
                raise ValueError(f"parent given for {child!r}, which is not a label or group")
        return self

    def descendants(self, group: str) -> list[str]:
        """Labels under ``group`` (itself included when it is a label), for ``is_a()``."""
        out = [group] if group in self.labels else []
        for label in self.labels:
            node = label
            seen: set[str] = set()
            while node in self.parents and node not in seen:
                seen.add(node)
                node = self.parents[node]
                if node == group and label not in out:
                    out.append(label)
        return out

    def groups(self) -> set[str]:
        return set(self.parents.values())


class AttributeSpec(Strict):
    """A per-annotation attribute the dataset carries (e.g. ``occluded``), typed for rules."""

    type: Literal["bool", "number", "string", "enum"]
    values: list[str] | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _enum_values(self) -> AttributeSpec:
        if self.type == "enum" and not self.values:
            raise ValueError("an enum attribute needs 'values'")
        if self.type != "enum" and self.values is not None:
            raise ValueError("'values' is only allowed for enum attributes")
        return self


class JudgmentField(Strict):
    """One thing a model must extract, with the question it is asked."""

    type: Literal["enum", "bool", "number", "text"]
    question: str = Field(min_length=3)
    values: list[str] | None = None
    values_from: Literal["taxonomy"] | None = None
    min: float | None = None
    max: float | None = None
    max_length: int = Field(default=200, ge=1, le=2000)

    @model_validator(mode="after")
    def _shape(self) -> JudgmentField:
        if self.type == "enum":
            if bool(self.values) == bool(self.values_from):
                raise ValueError("an enum judgment needs exactly one of 'values' or 'values_from'")
        elif self.values is not None or self.values_from is not None:
            raise ValueError("'values'/'values_from' are only allowed for enum judgments")
        if self.type != "number" and (self.min is not None or self.max is not None):
            raise ValueError("'min'/'max' are only allowed for number judgments")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("'min' is greater than 'max'")
        return self


class Check(Strict):
    """A condition with a reason: used for oversight and judgment consistency checks."""

    id: str | None = None
    when: str
    reason: str = Field(min_length=1)


class Judgments(Strict):
    """What a model extracts per annotation (or per item); becomes a strict pydantic model."""

    per: Literal["annotation", "item"] = "annotation"
    instructions: str | None = None
    fields: dict[str, JudgmentField] = Field(min_length=1)
    consistency: list[Check] = Field(default_factory=list)

    @field_validator("fields")
    @classmethod
    def _names(cls, fields: dict[str, JudgmentField]) -> dict[str, JudgmentField]:
        for name in fields:
            if not NAME_PATTERN.match(name):
                raise ValueError(f"judgment name {name!r} must be lower_snake_case")
        return fields


class Rule(Strict):
    """One executable rule; ``clause`` cites the guideline section it enforces."""

    id: str
    clause: str = Field(min_length=1)
    when: str = Field(min_length=1)
    severity: str
    message: str | None = None
    status: Literal["active", "draft", "disabled"] = "active"
    source: str | None = None
    penalty: float | None = Field(default=None, ge=0)
    description: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not RULE_ID_PATTERN.match(value):
            raise ValueError(f"rule id {value!r} must start with a letter and use letters, digits, _ . -")
        return value


class Scoring(Strict):
    """Score = start - sum of penalties; pass when score >= pass_at and no ``fail_on`` finding."""

    start: float = 100.0
    penalty: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_PENALTIES))
    pass_at: float = 75.0
    fail_on: list[str] = Field(default_factory=list)
    floor: float = 0.0

    @model_validator(mode="after")
    def _severities(self) -> Scoring:
        negative = [s for s, p in self.penalty.items() if p < 0]
        if negative:
            raise ValueError(f"penalties must not be negative (a score only goes down): {', '.join(negative)}")
        unknown = [s for s in self.fail_on if s not in self.penalty]
        if unknown:
            raise ValueError(f"fail_on names severities without a penalty: {', '.join(unknown)}")
        return self


class Example(Strict):
    """A golden case: a tiny item whose expected rule ids ``rulebook test`` checks."""

    name: str
    item: dict[str, Any] = Field(default_factory=dict)
    text: str | None = None
    annotations: list[dict[str, Any]] = Field(default_factory=list)
    judgments: dict[str, dict[str, Any]] = Field(default_factory=dict)
    expect: list[str] = Field(default_factory=list)
    expect_review: list[str] | None = None


ParamValue = float | int | str | bool | list[float | int | str]


class Rulebook(Strict):
    """A whole rulebook as written. Round-trips with :func:`rulebook.loader.to_yaml`."""

    rulebook: str = Field(min_length=1)
    version: str
    title: str | None = None
    description: str | None = None
    guideline: Guideline
    applies_to: AppliesTo
    taxonomy: Taxonomy
    attributes: dict[str, AttributeSpec] = Field(default_factory=dict)
    params: dict[str, ParamValue] = Field(default_factory=dict)
    judgments: Judgments | None = None
    rules: list[Rule] = Field(min_length=1)
    scoring: Scoring = Field(default_factory=Scoring)
    oversight: list[Check] = Field(default_factory=list)
    examples: list[Example] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("guideline", mode="before")
    @classmethod
    def _guideline(cls, value: Any) -> Any:
        return {"title": value} if isinstance(value, str) else value

    @field_validator("taxonomy", mode="before")
    @classmethod
    def _taxonomy(cls, value: Any) -> Any:
        return {"labels": value} if isinstance(value, list) else value

    @field_validator("attributes", "params")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not NAME_PATTERN.match(name):
                raise ValueError(f"name {name!r} must be lower_snake_case")
        return value

    def active_rules(self) -> list[Rule]:
        """Rules used for scoring: drafts wait until a person marks them ``active``."""
        return [r for r in self.rules if r.status == "active"]

    @property
    def severities(self) -> list[str]:
        return list(self.scoring.penalty)
