"""Text classification as JSON Lines: ``{"id": 7, "text": "...", "label": "spam"}`` per line.

``label`` (or ``labels``) is a string, an integer class id, or a list of them (multi-label;
doccano's classification export). A missing or null label makes an unlabelled item (zero
annotations, measurable with ``item.annotation_count == 0``). Other scalar fields (e.g.
``annotator``) become attributes of each label. Annotation ids are ``<item id>:label`` for a
single label and ``<item id>:label[k]`` for the k-th (from 0) of a list.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ingest.base import register
from ingest.ids import as_label
from ingest.jsonl import JsonlTextReader
from ingest.model import Annotation, Quarantined, snippet

LABEL_KEYS = ("label", "labels")


def _label_key(record: dict[str, Any]) -> str | None:
    return next((k for k in LABEL_KEYS if k in record), None)


@register
class TextJsonlReader(JsonlTextReader):
    format = "text-jsonl"
    description = "text classification JSON Lines: text + label (or labels), optional id"
    reserved: ClassVar[frozenset[str]] = frozenset({"id", "text", *LABEL_KEYS})
    shape = "labels"

    def annotations(
        self, record: dict[str, Any], item_id: str, locator: str
    ) -> tuple[list[Annotation], list[Quarantined]]:
        key = _label_key(record)
        if key is None or record[key] is None:
            return [], []
        value = record[key]
        attributes = self.extra_attributes(record)
        entries = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        good: list[Annotation] = []
        bad: list[Quarantined] = []
        for index, entry in entries:
            path = key if index is None else f"{key}[{index}]"
            ann_id = f"{item_id}:{path}"
            label = as_label(entry)
            if label is None:
                reason = f"{path} must be a non-empty string or an integer class id, got {snippet(entry, 60)}"
                bad.append(
                    Quarantined(
                        self.path.name,
                        f"{locator} {path}",
                        reason,
                        item_id=item_id,
                        annotation_id=ann_id,
                        raw=snippet(entry),
                    )
                )
                continue
            good.append(Annotation(ann_id, label, attributes=dict(attributes)))
        return good, bad
