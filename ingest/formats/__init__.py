"""Built-in dataset readers; importing this package registers them."""

from ingest.formats import coco

__all__ = ["coco"]
