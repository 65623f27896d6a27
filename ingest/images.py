"""Safe access to image files: size from the header, a pixel limit, decoding and content hashes.

An image is never decoded before its header says it is within ``LABELGATE_MAX_IMAGE_PIXELS``:
a small PNG can declare billions of pixels (a decompression bomb). Pillow opens files lazily,
so reading the size costs a header read (~15 µs), not a decode. The size is the displayed
one: a photo stored 640×480 with EXIF Orientation 6 is 480×640, as Ultralytics and labeling
tools show it; the orientation comes from metadata read with the header. The stored size is
known too (:attr:`ImageHeader.stored`): COCO and VOC exports often declare it (Label Studio's
does), and their boxes are then in the stored frame. Problems come back as
:class:`ImageProblem` with a one-line reason readers put in the quarantine table.
"""

from __future__ import annotations

import hashlib
import re
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from labelgate.settings import MAX_IMAGE_PIXELS

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".dng", ".mpo", ".pfm"})
_PILLOW_PIXELS = re.compile(r"\((\d+) pixels\)")
ORIENTATION = 0x0112  # EXIF tag
QUARTER_TURNS = frozenset({5, 6, 7, 8})  # orientations shown rotated by 90°: width and height swap


class ImageProblem(Exception):
    """An image file that is missing, unreadable or refused; ``str()`` is the reason."""


@dataclass(frozen=True, slots=True)
class ImageHeader:
    width: int  # as displayed (EXIF orientation applied)
    height: int
    format: str | None
    orientation: int = 1  # EXIF Orientation, 1 when absent

    @property
    def stored(self) -> tuple[int, int]:
        """Width and height as stored in the file, before the EXIF orientation turns it."""
        return (self.height, self.width) if self.orientation in QUARTER_TURNS else (self.width, self.height)

    def fits(self, width: float, height: float) -> bool:
        """Whether a declared size is the file's, stored or displayed: tools declare either."""
        return (width, height) in ((self.width, self.height), self.stored)

    def turns_for(self, width: float | None, height: float | None) -> bool:
        """Whether to show the picture turned as its EXIF orientation says, to draw the boxes of an
        item declaring ``width`` × ``height``: not when that is the stored size and the displayed
        one differs (the boxes are on the stored pixels); otherwise as displayed, as Ultralytics and
        labeling tools show it (also when the sizes cannot tell, e.g. a 180° turn, or none is given)."""
        return (width, height) == (self.width, self.height) or (width, height) != self.stored


def _over_limit(name: str, pixels: int, limit: int) -> ImageProblem:
    return ImageProblem(
        f"image {name} has {pixels:,} pixels, over the limit of {limit:,} "
        "(LABELGATE_MAX_IMAGE_PIXELS): refused as a possible decompression bomb"
    )


def read_header(path: Path, name: str | None = None, limit: int | None = None) -> ImageHeader:
    """Width, height and format from the file header; refuses images over the pixel limit."""
    shown = name or path.name
    limit = MAX_IMAGE_PIXELS.get() if limit is None else limit
    if not path.is_file():
        raise ImageProblem(f"image file {shown} not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                fmt = image.format
                orientation = _orientation(image)
                if orientation in QUARTER_TURNS:
                    width, height = height, width
    except Image.DecompressionBombError as exc:
        found = _PILLOW_PIXELS.search(str(exc))
        raise _over_limit(shown, int(found.group(1)) if found else 0, limit) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageProblem(f"image {shown} cannot be read as an image ({_first_line(exc)})") from None
    if width * height > limit:
        raise _over_limit(shown, width * height, limit)
    return ImageHeader(width, height, fmt, orientation)


def _orientation(image: Image.Image) -> int:
    """EXIF orientation from the metadata the header read loaded (1 if absent or unreadable).

    ``Image.Image.getexif`` rather than the image's own: PNG's override decodes the pixels to
    look for an eXIf chunk after them, which a header read must never do.
    """
    try:
        value = Image.Image.getexif(image).get(ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError, TypeError, KeyError, IndexError, struct.error):
        return 1
    return value if isinstance(value, int) else 1


def decode(path: Path, name: str | None = None, limit: int | None = None) -> ImageHeader:
    """Check the file's structure (Pillow's ``verify``: chunks, checksums, truncation), then
    decode it, after the header check: proves the file is a usable image."""
    shown = name or path.name
    header = read_header(path, shown, limit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.verify()
            with Image.open(path) as image:
                image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageProblem(f"image {shown} cannot be decoded ({_first_line(exc)})") from None
    return header


def content_digest(path: Path) -> bytes:
    """SHA-256 of the file's bytes (16 bytes kept): finds byte-identical duplicate images."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()[:16]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__
