"""Built-in dataset readers; importing this package registers them."""

from ingest.formats import coco, conll, labelstudio, spans_jsonl, text_csv, text_jsonl, voc, yolo

# Every built-in format name, in the order the help text shows them.
FORMATS = (
    "coco",
    "yolo",
    "voc",
    "labelstudio",
    "labelstudio-text",
    "text-jsonl",
    "text-csv",
    "spans-jsonl",
    "conll",
)

__all__ = ["FORMATS", "coco", "conll", "labelstudio", "spans_jsonl", "text_csv", "text_jsonl", "voc", "yolo"]
