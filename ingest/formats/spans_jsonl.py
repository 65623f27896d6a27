"""Named-entity spans as JSON Lines, with character offsets (end exclusive).

Three common shapes are read, one per record:

- ``{"text": ..., "spans": [{"start": 0, "end": 5, "label": "PER", "id"?, "text"?}]}``
  (spaCy / Prodigy style);
- ``{"text": ..., "entities": [{"id": 3, "start_offset": 0, "end_offset": 5, "label": "PER"}]}``
  (doccano);
- ``{"text": ..., "label": [[0, 5, "PER"], ...]}`` (doccano 1.x).

A span whose offsets are not integers or that has no label is quarantined; offsets outside
the text, empty spans and the like are kept and measured (``span.*`` fields). Annotation ids
are the span's own ``id``, else ``<item id>:<key>[k]``. A Prodigy record answered
``reject`` or ``ignore`` is quarantined with its spans: the annotator did not accept them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ingest.base import register
from ingest.ids import as_id, as_label
from ingest.jsonl import JsonlTextReader
from ingest.model import Annotation, Quarantined, snippet

SPAN_KEYS = ("spans", "entities", "label", "labels")
OFFSET_NAMES = (("start", "end"), ("start_offset", "end_offset"))
SPAN_OWN_KEYS = frozenset({"id", "label", "text", "start", "end", "start_offset", "end_offset"})


def _span_key(record: dict[str, Any]) -> str | None:
    """The key holding the spans: ``spans`` or ``entities`` when present, else a list ``label(s)``."""
    return next(
        (k for k in SPAN_KEYS if k in record and (k in ("spans", "entities") or isinstance(record[k], list))), None
    )


def _offset(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@register
class SpansJsonlReader(JsonlTextReader):
    format = "spans-jsonl"
    description = "named-entity spans JSON Lines: text + spans with character offsets"
    reserved: ClassVar[frozenset[str]] = frozenset({"id", "text", *SPAN_KEYS})
    shape = "spans"

    def record_problem(self, record: dict[str, Any]) -> str | None:
        answer = record.get("answer")
        if answer in ("reject", "ignore"):
            return f"Prodigy did not accept this example (answer {answer!r}): its spans are not scored"
        return None

    def annotations(
        self, record: dict[str, Any], item_id: str, locator: str
    ) -> tuple[list[Annotation], list[Quarantined]]:
        key = _span_key(record)
        if key is None or record[key] is None:
            return [], []
        spans = record[key]
        if not isinstance(spans, list):
            reason = f"'{key}' must be a list of spans, got {snippet(spans, 60)}"
            return [], [Quarantined(self.path.name, f"{locator} {key}", reason, item_id=item_id, raw=snippet(spans))]
        good: list[Annotation] = []
        bad: list[Quarantined] = []
        ids: set[str] = set()
        for index, span in enumerate(spans):
            path = f"{key}[{index}]"
            outcome = self._span(span, path, item_id, ids)
            if isinstance(outcome, Annotation):
                ids.add(outcome.id)
                good.append(outcome)
            else:
                own_id = as_id(span.get("id")) if isinstance(span, dict) else None
                bad.append(
                    Quarantined(
                        self.path.name,
                        f"{locator} {path}",
                        outcome,
                        item_id=item_id,
                        annotation_id=own_id or f"{item_id}:{path}",
                        raw=snippet(span),
                    )
                )
        return good, bad

    @staticmethod
    def _span(span: Any, path: str, item_id: str, ids: set[str]) -> Annotation | str:
        if isinstance(span, list):
            if len(span) != 3:
                return f"{path} must be [start, end, label], got {snippet(span, 60)}"
            span = {"start": span[0], "end": span[1], "label": span[2]}
        if not isinstance(span, dict):
            return f"{path} must be an object with start, end and label, got {snippet(span, 60)}"
        ann_id = as_id(span.get("id")) or f"{item_id}:{path}"
        if ann_id in ids:
            return f"duplicate span id {ann_id!r} in item {item_id}: ids must be unique"
        names = next((n for n in OFFSET_NAMES if n[0] in span or n[1] in span), OFFSET_NAMES[0])
        start, end = _offset(span.get(names[0])), _offset(span.get(names[1]))
        if start is None or end is None:
            got = snippet([span.get(names[0]), span.get(names[1])], 60)
            return f"{path}: '{names[0]}' and '{names[1]}' must be integer character offsets, got {got}"
        label = as_label(span.get("label"))
        if label is None:
            return f"{path} has no label (a non-empty string is needed)"
        text = span.get("text")
        attributes = {
            str(k): v for k, v in span.items() if k not in SPAN_OWN_KEYS and isinstance(v, bool | int | float | str)
        }
        return Annotation(
            ann_id,
            label,
            start=start,
            end=end,
            text=text if isinstance(text, str) else None,
            attributes=attributes,
        )
