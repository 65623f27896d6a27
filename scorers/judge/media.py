"""Images for the model: the whole picture and a crop of the box with the box drawn.

Files are opened only inside the dataset root, and only after their pixel count (read from
the header, without decoding) is below ``LABELGATE_MAX_IMAGE_PIXELS``: a decompression bomb
is refused with a reason instead of exhausting memory.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from ingest.model import Annotation, Item
from ingest.paths import DatasetRoot, UnsafePath

FULL_MAX_SIDE = 768
CROP_MIN_SIDE = 256


class MediaUnavailable(Exception):
    """The item's image cannot be shown to a model; the message says why."""


@dataclass
class EncodedImage:
    data_uri: str
    width: int
    height: int


class MediaSource:
    def __init__(self, root: DatasetRoot, max_pixels: int) -> None:
        self.root = root
        self.max_pixels = max_pixels

    def _path(self, item: Item) -> Path:
        if not item.media:
            raise MediaUnavailable(f"item {item.id} has no image file")
        if item.attributes.get("remote_media"):  # a Label Studio URL not found in the dataset folder
            problem = item.attributes.get("media_problem")
            raise MediaUnavailable(str(problem) if problem else f"image {item.media} is not a file of the dataset")
        try:
            path = self.root.find(item.media)
        except UnsafePath as exc:
            raise MediaUnavailable(str(exc)) from None
        if path is None:
            raise MediaUnavailable(f"image file {item.media} not found under {self.root.root}")
        return path

    def read(self, item: Item) -> bytes:
        """The image file's bytes (after its header passed the pixel limit), read once: hashed for
        the journal, and decoded only when something is left to ask."""
        path = self._path(item)
        self._opened(item, path).close()
        try:
            return path.read_bytes()
        except OSError as exc:
            raise MediaUnavailable(f"image {item.media} cannot be read ({exc.__class__.__name__})") from None

    def decode(self, item: Item, data: bytes) -> Image.Image:
        """The picture in RGB (its header checked again: these are the bytes decoded)."""
        with self._opened(item, io.BytesIO(data)) as image:
            try:
                image.load()
                return image.convert("RGB")
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                raise MediaUnavailable(f"image {item.media} cannot be decoded ({exc.__class__.__name__})") from None

    def _opened(self, item: Item, source: Path | io.BytesIO) -> Image.Image:
        """The image with only its header read; refused when it has too many pixels."""
        try:
            image = Image.open(source)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise MediaUnavailable(f"image {item.media} cannot be decoded ({exc.__class__.__name__})") from None
        width, height = image.size
        if width * height > self.max_pixels:
            image.close()
            raise MediaUnavailable(
                f"image {item.media} has {width * height:,} pixels, over the limit of "
                f"{self.max_pixels:,} (LABELGATE_MAX_IMAGE_PIXELS)"
            )
        return image

    def load(self, item: Item) -> Image.Image:
        return self.decode(item, self.read(item))


def encode(image: Image.Image, quality: int = 85) -> EncodedImage:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return EncodedImage(f"data:image/jpeg;base64,{data}", image.width, image.height)


def full_view(image: Image.Image, highlight: Annotation | None = None) -> EncodedImage:
    """The whole image, downscaled, with the judged box outlined."""
    view = image.copy()
    if highlight is not None and highlight.bbox is not None:
        x, y, w, h = highlight.bbox
        ImageDraw.Draw(view).rectangle([x, y, x + max(w, 1), y + max(h, 1)], outline=(255, 0, 0), width=3)
    view.thumbnail((FULL_MAX_SIDE, FULL_MAX_SIDE))
    return encode(view)


def box_crop(image: Image.Image, annotation: Annotation, padding: float) -> EncodedImage:
    """A crop around the box (``padding`` × its size on each side) with the box drawn in red."""
    assert annotation.bbox is not None
    x, y, w, h = annotation.bbox
    w, h = max(w, 1.0), max(h, 1.0)
    left = max(0.0, x - w * padding)
    top = max(0.0, y - h * padding)
    right = min(float(image.width), x + w + w * padding)
    bottom = min(float(image.height), y + h + h * padding)
    if right - left < 2 or bottom - top < 2:
        left, top, right, bottom = 0.0, 0.0, float(image.width), float(image.height)
    crop = image.crop((int(left), int(top), int(right + 0.999), int(bottom + 0.999))).copy()
    ImageDraw.Draw(crop).rectangle(
        [x - int(left), y - int(top), x - int(left) + w, y - int(top) + h], outline=(255, 0, 0), width=2
    )
    scale = CROP_MIN_SIDE / max(1, min(crop.width, crop.height))
    if scale > 1:
        crop = crop.resize((int(crop.width * scale), int(crop.height * scale)), Image.Resampling.BILINEAR)
    crop.thumbnail((FULL_MAX_SIDE, FULL_MAX_SIDE))
    return encode(crop)
