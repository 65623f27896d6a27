"""Built-in dataset readers; importing this package registers them."""

from ingest.formats import coco, conll, labelstudio, spans_jsonl, text_csv, text_jsonl, voc, yolo

__all__ = ["coco", "conll", "labelstudio", "spans_jsonl", "text_csv", "text_jsonl", "voc", "yolo"]
