"""The names a condition may use: every field has a type, a scope and a one-line meaning.

Fields come from four owners: the item/annotation structure (here), the rulebook itself
(declared attributes and judgments, here), measurements (declared by each measurement in
``scorers.measure``) and, for oversight only, the findings and score of the item.
An unknown name is a compile error with a close-match suggestion.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from rulebook.model import Rulebook

FieldType = Literal["number", "string", "bool"]
Scope = Literal["item", "annotation", "finding"]
SCOPE_RANK: dict[Scope, int] = {"item": 0, "annotation": 1, "finding": 2}


@dataclass(frozen=True)
class FieldSpec:
    """One field a condition can reference, e.g. ``box.width`` (number, per annotation)."""

    path: str
    type: FieldType
    scope: Scope
    doc: str
    values: tuple[str, ...] | None = None
    owner: str = "measurement"

    @property
    def namespace(self) -> str:
        return self.path.split(".", 1)[0]


class Vocabulary:
    """The fields available to one rulebook's conditions."""

    def __init__(self, fields: Iterable[FieldSpec]) -> None:
        self._fields: dict[str, FieldSpec] = {}
        for spec in fields:
            self._fields[spec.path] = spec

    def get(self, path: str) -> FieldSpec | None:
        return self._fields.get(path)

    def __contains__(self, path: str) -> bool:
        return path in self._fields

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._fields.values())

    def __len__(self) -> int:
        return len(self._fields)

    def extended(self, fields: Iterable[FieldSpec]) -> Vocabulary:
        return Vocabulary([*self._fields.values(), *fields])

    def suggest(self, path: str) -> str:
        """A 'did you mean' hint for an unknown name."""
        close = difflib.get_close_matches(path, list(self._fields), n=3, cutoff=0.6)
        if close:
            return "did you mean " + " or ".join(close) + "?"
        namespace = path.split(".", 1)[0]
        same = sorted(p for p in self._fields if p.startswith(namespace + "."))
        if same:
            shown = ", ".join(same[:8]) + (", ..." if len(same) > 8 else "")
            return f"known {namespace} fields: {shown}"
        spaces = sorted({spec.namespace for spec in self._fields.values()})
        return "known namespaces: " + ", ".join(spaces)


def structural_fields(applies_to: str) -> list[FieldSpec]:
    """Fields every item of this kind has, filled straight from the dataset record."""
    fields = [
        FieldSpec("item.id", "string", "item", "the item's own id (image file name or text id)", owner="structure"),
        FieldSpec("item.annotation_count", "number", "item", "number of annotations on the item", owner="structure"),
        FieldSpec(
            "item.quarantined_annotations",
            "number",
            "item",
            "annotations of the item that could not be read (quarantined, not in annotation_count)",
            owner="structure",
        ),
        FieldSpec(
            "annotation.id",
            "string",
            "annotation",
            "the annotation's own id in the dataset",
            owner="structure",
        ),
        FieldSpec(
            "annotation.label",
            "string",
            "annotation",
            "the label as written in the dataset",
            owner="structure",
        ),
    ]
    if applies_to == "image_boxes":
        fields += [
            FieldSpec("item.width", "number", "item", "image width in pixels", owner="structure"),
            FieldSpec("item.height", "number", "item", "image height in pixels", owner="structure"),
        ]
    else:
        fields += [
            FieldSpec("item.text", "string", "item", "the item's text", owner="structure"),
        ]
    if applies_to == "text_spans":
        fields += [
            FieldSpec("annotation.start", "number", "annotation", "span start (character offset)", owner="structure"),
            FieldSpec(
                "annotation.end",
                "number",
                "annotation",
                "span end (character offset, exclusive)",
                owner="structure",
            ),
            FieldSpec(
                "annotation.text",
                "string",
                "annotation",
                "the span's text as written in the dataset",
                owner="structure",
            ),
        ]
    return fields


def rulebook_fields(rb: Rulebook) -> list[FieldSpec]:
    """Fields the rulebook declares: annotation attributes and model judgments."""
    fields: list[FieldSpec] = []
    for name, attr in rb.attributes.items():
        kind: FieldType = {"bool": "bool", "number": "number"}.get(attr.type, "string")  # type: ignore[assignment]
        fields.append(
            FieldSpec(
                f"annotation.{name}",
                kind,
                "annotation",
                attr.description or f"dataset attribute {name}",
                tuple(attr.values) if attr.values else None,
                owner="attribute",
            )
        )
    if rb.judgments is not None:
        scope: Scope = "annotation" if rb.judgments.per == "annotation" else "item"
        for name, spec in rb.judgments.fields.items():
            values = (
                tuple(rb.taxonomy.labels)
                if spec.values_from == "taxonomy"
                else (tuple(spec.values) if spec.values else None)
            )
            jtype: FieldType = {"bool": "bool", "number": "number"}.get(spec.type, "string")  # type: ignore[assignment]
            fields.append(FieldSpec(f"judgment.{name}", jtype, scope, spec.question, values, owner="judgment"))
    return fields


def oversight_fields(rb: Rulebook) -> list[FieldSpec]:
    """Extra fields oversight conditions see: the item's score and each of its findings."""
    severities = tuple(rb.severities)
    rule_ids = tuple(r.id for r in rb.rules)
    return [
        FieldSpec("score.value", "number", "item", "the item's score", owner="score"),
        FieldSpec("score.passed", "bool", "item", "whether the score passes", owner="score"),
        FieldSpec("score.findings", "number", "item", "number of findings on the item", owner="score"),
        FieldSpec("finding.rule_id", "string", "finding", "id of the rule that fired", rule_ids, owner="finding"),
        FieldSpec("finding.severity", "string", "finding", "severity of the finding", severities, owner="finding"),
        FieldSpec("finding.penalty", "number", "finding", "penalty the finding cost", owner="finding"),
    ]


def close_values(value: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(allowed), n=2, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
