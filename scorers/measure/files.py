"""The image file behind an item: does it exist, is it readable, does its size match.

On demand (it touches the disk): runs only when the rulebook reads an ``image.*`` field of
this measurement. The file is found inside the dataset root only (``ingest.paths``); its
size comes from the header (``image.file_width``/``file_height`` as displayed: EXIF-rotated
photos count rotated, as Ultralytics reads them). The size matches when the annotations declare
either the displayed or the stored size: COCO/VOC exports often declare the stored one (Label
Studio's does), and a mismatch on every phone photo would be noise. The file is decoded only
when ``image.decodable`` or ``image.problem`` is read, and only once the header shows it is
within the pixel limit.
Items whose media is not a file of the dataset (readers set the ``remote_media`` attribute,
e.g. Label Studio's server URLs) get missing values, not false.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from ingest.images import ImageProblem, decode, read_header
from ingest.model import Item
from ingest.paths import DatasetRoot, UnsafePath
from rulebook.vocabulary import FieldSpec
from scorers.measure import register
from scorers.measure.base import DatasetInfo, MeasureContext, Measurement, Row

DECODE_FIELDS = frozenset({"image.decodable", "image.problem"})


class ImageFile(Measurement):
    name = "image_file"
    applies_to = frozenset({"image_boxes"})
    on_demand = True
    fields: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec("image.exists", "bool", "item", "the image file is present inside the dataset folder"),
        FieldSpec("image.decodable", "bool", "item", "the image decodes completely (within the pixel limit)"),
        FieldSpec("image.problem", "string", "item", "why the image file cannot be used"),
        FieldSpec("image.file_width", "number", "item", "width in pixels read from the file header, as displayed"),
        FieldSpec("image.file_height", "number", "item", "height in pixels read from the file header, as displayed"),
        FieldSpec(
            "image.size_matches", "bool", "item", "the size the annotations give is the file's, stored or displayed"
        ),
    )

    def __init__(self, root: Path | None = None, decode_files: bool = True) -> None:
        self.root = DatasetRoot(root) if root is not None else None
        self.decode_files = decode_files

    def bind(self, dataset: DatasetInfo) -> ImageFile:
        return ImageFile(dataset.root, bool(DECODE_FIELDS & dataset.fields_used))

    def measure(self, item: Item, item_row: Row, rows: list[Row], ctx: MeasureContext) -> None:
        if self.root is None or not item.media or item.attributes.get("remote_media"):
            return
        try:
            path = self.root.find(item.media)
        except UnsafePath as exc:
            item_row["image.exists"] = False
            item_row["image.problem"] = f"unsafe path: {exc}"
            return
        if path is None:
            item_row["image.exists"] = False
            item_row["image.problem"] = (
                f"image file {item.media} not found in the dataset folder {self.root.root} "
                f"(looked for {item.media} and images/{item.media})"
            )
            return
        item_row["image.exists"] = True
        try:
            header = decode(path, item.media) if self.decode_files else read_header(path, item.media)
        except ImageProblem as exc:
            item_row["image.problem"] = str(exc)
            if self.decode_files:
                item_row["image.decodable"] = False
            return
        if self.decode_files:
            item_row["image.decodable"] = True
        item_row["image.file_width"] = header.width
        item_row["image.file_height"] = header.height
        if item.width is not None and item.height is not None:
            item_row["image.size_matches"] = header.fits(item.width, item.height)


register(ImageFile())
