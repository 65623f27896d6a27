"""Example items for the report: image thumbnails with their boxes, text with the span marked.

Images are looked up inside the run's dataset folder only (``ingest.paths.DatasetRoot``), and
decoded only after their header is within ``LABELGATE_MAX_IMAGE_PIXELS``. A missing, refused
or undecodable image never fails a report: the example is drawn on a grey canvas of the
item's size (the boxes still show where the problem is) and says why the picture is missing.
Every dataset string (texts, labels, ids) is escaped; the HTML returned is safe to inline.
"""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape
from PIL import Image, ImageDraw, ImageOps

from ingest.images import ImageProblem, read_header
from ingest.paths import DatasetRoot, UnsafePath
from labelgate.settings import MAX_IMAGE_PIXELS

SIDE = 240
TEXT_WINDOW = 140
SUBDIRS = ("", "images", "JPEGImages")
FLAGGED = (229, 20, 20)
OTHER = (255, 235, 59)


@dataclass(frozen=True)
class Box:
    annotation_id: str
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Thumbnail:
    data_uri: str
    width: int
    height: int
    note: str | None  # why the real picture is not shown, when it is not


def dataset_root(dataset_path: str | None, dataset_format: str | None = None) -> DatasetRoot | None:
    """The folder a run's images are found in, as its reader resolved it (``ingest.base.dataset_root_of``)."""
    if not dataset_path:
        return None
    from ingest.base import dataset_root_of

    folder = dataset_root_of(dataset_path, dataset_format)
    return DatasetRoot(folder) if folder.is_dir() else None


class Thumbnailer:
    """Draws at most ``budget`` thumbnails; past that, examples are listed without pictures."""

    def __init__(self, root: DatasetRoot | None, budget: int = 120, max_pixels: int | None = None) -> None:
        self.root = root
        self.budget = budget
        self.max_pixels = MAX_IMAGE_PIXELS.get() if max_pixels is None else max_pixels
        self.drawn = 0

    def image(
        self, media: str | None, width: int | None, height: int | None, boxes: Sequence[Box], flagged: str | None
    ) -> Thumbnail | None:
        if self.drawn >= self.budget:
            return None
        self.drawn += 1
        picture, size, note = self._load(media, width, height)
        if picture is None:
            size = (max(1, int(width or 640)), max(1, int(height or 480)))
            scale = min(1.0, SIDE / max(size))
            picture = Image.new("RGB", (max(1, round(size[0] * scale)), max(1, round(size[1] * scale))), (96, 96, 96))
        else:
            picture.thumbnail((SIDE, SIDE))
        sx, sy = picture.width / size[0], picture.height / size[1]
        draw = ImageDraw.Draw(picture)
        ordered = sorted(boxes, key=lambda b: b.annotation_id == flagged)  # the flagged box on top
        for box in ordered:
            is_flagged = flagged is not None and box.annotation_id == flagged
            x0, y0 = box.x * sx, box.y * sy
            x1, y1 = x0 + max(box.w * sx, 1.0), y0 + max(box.h * sy, 1.0)
            if is_flagged:  # red inside a white halo, so it shows on red objects too
                draw.rectangle([x0 - 3, y0 - 3, x1 + 3, y1 + 3], outline=(255, 255, 255), width=1)
                draw.rectangle([x0 - 2, y0 - 2, x1 + 2, y1 + 2], outline=FLAGGED, width=3)
            else:
                draw.rectangle([x0, y0, x1, y1], outline=OTHER, width=1)
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=72)
        uri = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        return Thumbnail(uri, picture.width, picture.height, note)

    def _load(
        self, media: str | None, width: float | None, height: float | None
    ) -> tuple[Image.Image | None, tuple[int, int], str | None]:
        """The decoded picture and its full size, in the frame of the boxes of an item declaring
        ``width`` × ``height`` (:meth:`ingest.images.ImageHeader.turns_for`), or why there is none."""
        none = (1, 1)
        if not media:
            return None, none, "the item names no image file"
        if self.root is None:
            return None, none, "the dataset folder is no longer there"
        try:
            path = self.root.find(media, SUBDIRS)
        except UnsafePath as exc:
            return None, none, f"refused: {exc}"
        if path is None:
            return None, none, f"image file {media} not found in the dataset folder"
        try:
            header = read_header(path, media, self.max_pixels)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as opened:
                    opened.draft("RGB", (SIDE * 2, SIDE * 2))  # JPEG: decode at a reduced scale
                    if header.turns_for(width, height):
                        return ImageOps.exif_transpose(opened).convert("RGB"), (header.width, header.height), None
                    return opened.convert("RGB"), header.stored, None
        except ImageProblem as exc:
            return None, none, str(exc)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            return None, none, f"image {media} cannot be decoded ({exc.__class__.__name__})"


def highlight(text: str | None, start: int | None, end: int | None, window: int = TEXT_WINDOW) -> Markup:
    """The text around ``[start, end)`` with the span in ``<mark>``, everything escaped."""
    if not text:
        return Markup("<span class='note'>(no text stored)</span>")
    if start is None or end is None or not (0 <= start <= end <= len(text)):
        shown = text if len(text) <= 2 * window else text[: 2 * window] + "…"
        return Markup(escape(shown))
    left = max(0, start - window)
    right = min(len(text), end + window)
    before = ("…" if left > 0 else "") + text[left:start]
    after = text[end:right] + ("…" if right < len(text) else "")
    return Markup("{}<mark>{}</mark>{}").format(escape(before), escape(text[start:end]), escape(after))
