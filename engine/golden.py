"""Golden examples: run a rulebook's ``examples`` through the real scoring path.

Each example is a tiny item (and optional judgments); the rule ids that fire must equal its
``expect`` list, and when ``expect_review`` is given, the ids of the checks that send it to
review must equal that list. Mismatches are reported readably, rule by rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from engine.scoring import ChunkScorer, ItemJudgments, ScoredItem
from ingest.model import Annotation, Item
from rulebook.compiler import CompiledRulebook
from rulebook.model import Example
from scorers.measure import measurements_for


@dataclass
class ExampleResult:
    name: str
    expected: list[str]
    got: list[str]
    expected_review: list[str] | None = None
    got_review: list[str] = field(default_factory=list)
    error: str | None = None
    findings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        if self.error is not None:
            return False
        review_ok = self.expected_review is None or sorted(self.expected_review) == self.got_review
        return sorted(self.expected) == self.got and review_ok

    def explain(self) -> str:
        """A readable diff of what was expected and what happened."""
        if self.error:
            return f"cannot run: {self.error}"
        lines: list[str] = []
        missing = sorted(set(self.expected) - set(self.got))
        extra = sorted(set(self.got) - set(self.expected))
        if missing or extra:
            lines.append(f"expected rules [{', '.join(sorted(self.expected))}], got [{', '.join(self.got)}]")
            for rule_id in missing:
                lines.append(f"  - {rule_id}: expected to fire, did not")
            for rule_id in extra:
                detail = [f for f in self.findings if f.startswith(rule_id + " ")]
                lines.append(f"  + {rule_id}: fired unexpectedly" + (f" ({detail[0]})" if detail else ""))
        if self.expected_review is not None and sorted(self.expected_review) != self.got_review:
            lines.append(
                f"expected review by [{', '.join(sorted(self.expected_review))}], got [{', '.join(self.got_review)}]"
            )
        return "\n".join(lines)


class ExampleError(Exception):
    pass


def _annotation(raw: dict[str, Any], index: int, text: str | None) -> Annotation:
    if "label" not in raw:
        raise ExampleError(f"annotation {index} has no label")
    ann_id = str(raw.get("id", f"a{index + 1}"))
    attributes = dict(raw.get("attributes", {}))
    if "bbox" in raw:
        bbox = raw["bbox"]
        if not (isinstance(bbox, list) and len(bbox) == 4):
            raise ExampleError(f"annotation {ann_id}: bbox must be [x, y, width, height]")
        return Annotation(
            ann_id,
            str(raw["label"]),
            tuple(float(v) for v in bbox),  # type: ignore[arg-type]
            attributes=attributes,
        )
    span = raw.get("span")
    start: Any
    end: Any
    start, end = span if isinstance(span, list) and len(span) == 2 else (raw.get("start"), raw.get("end"))
    if start is None or end is None:
        return Annotation(ann_id, str(raw["label"]), attributes=attributes)
    first, last = int(start), int(end)
    span_text = raw.get("text", text[first:last] if text is not None else None)
    return Annotation(ann_id, str(raw["label"]), start=first, end=last, text=span_text, attributes=attributes)


def example_item(example: Example, kind: str) -> Item:
    annotations = [_annotation(a, i, example.text) for i, a in enumerate(example.annotations)]
    item_id = str(example.item.get("id", example.name))
    if kind == "image":
        width, height = example.item.get("width"), example.item.get("height")
        if width is None or height is None:
            raise ExampleError("item needs width and height")
        return Item(item_id, "image", annotations, int(width), int(height), source="example")
    if example.text is None:
        raise ExampleError("a text example needs 'text'")
    return Item(item_id, "text", annotations, text=example.text, source="example")


def example_judgments(compiled: CompiledRulebook, example: Example, item: Item) -> ItemJudgments | None:
    """Judgments given by the example, validated with the rulebook's strict judgment model."""
    if not example.judgments:
        return None
    model = compiled.judgment_model
    if model is None:
        raise ExampleError("the example gives judgments but the rulebook declares none")
    by_id = {a.id: i for i, a in enumerate(item.annotations)}
    out = ItemJudgments()
    for key, values in example.judgments.items():
        try:
            parsed = model.model_validate(values).model_dump()
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ExampleError(f"judgment for {key}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        fields = {f"judgment.{k}": v for k, v in parsed.items()}
        if key == "item":
            out.item.update(fields)
        elif key in by_id:
            out.per_annotation[by_id[key]] = fields
        else:
            raise ExampleError(f"judgments given for unknown annotation {key!r}")
    per_annotation = compiled.rulebook.judgments is not None and compiled.rulebook.judgments.per == "annotation"
    if per_annotation:
        for index in range(len(item.annotations)):
            if index not in out.per_annotation:
                out.unavailable[index] = "not given in the example"
    elif not out.item:
        out.unavailable[None] = "not given in the example"
    return out


def run_examples(compiled: CompiledRulebook) -> list[ExampleResult]:
    kind = "image" if compiled.rulebook.applies_to == "image_boxes" else "text"
    scorer = ChunkScorer(compiled, measurements_for(compiled.rulebook.applies_to))
    results: list[ExampleResult] = []
    for example in compiled.rulebook.examples:
        result = ExampleResult(example.name, list(example.expect), [], example.expect_review)
        try:
            item = example_item(example, kind)
            judgments = example_judgments(compiled, example, item)
            scored: ScoredItem = scorer.score([item], judgments={0: judgments} if judgments else None)[0]
        except ExampleError as exc:
            result.error = str(exc)
            results.append(result)
            continue
        result.got = sorted({f.rule_id for f in scored.findings})
        result.got_review = sorted({r.check_id for r in scored.reasons})
        result.findings = [f"{f.rule_id} on {f.annotation_id or 'the item'}: {f.message}" for f in scored.findings]
        results.append(result)
    return results
