"""Images for the review screen: found inside the dataset root, size-checked, boxes drawn.

Paths come from the dataset and are untrusted: they are resolved with
:class:`ingest.paths.DatasetRoot` (nothing outside the run's dataset folder), and an image is
decoded only after its header says it is within ``LABELGATE_MAX_IMAGE_PIXELS``. Problems come
back as a one-line reason for a placeholder, never as an exception.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from ingest.images import ImageProblem, read_header
from ingest.paths import DatasetRoot, UnsafePath
from labelgate.settings import MAX_IMAGE_PIXELS

# Distinct colours (after Trubetskoy's 20 distinct colours), red left out: red marks flagged boxes.
PALETTE = (
    "#4363D8",
    "#F58231",
    "#3CB44B",
    "#911EB4",
    "#42D4F4",
    "#F032E6",
    "#BFEF45",
    "#FFE119",
    "#9A6324",
    "#469990",
    "#DCBEFF",
    "#000075",
    "#AAFFC3",
    "#808000",
)
HIGHLIGHT = "#FF1744"
DISPLAY_SIDE = 1280
MIN_MARK_PX = 28
SUBDIRS = ("", "images", "JPEGImages")


def class_colors(labels: Sequence[str], taxonomy: Sequence[str] = ()) -> dict[str, str]:
    """A stable colour per class: taxonomy order first, then a hash of the name."""
    colors: dict[str, str] = {}
    for index, label in enumerate(taxonomy):
        colors[label] = PALETTE[index % len(PALETTE)]
    for label in labels:
        if label not in colors:
            digest = hashlib.sha256(label.encode()).digest()
            colors[label] = PALETTE[digest[0] % len(PALETTE)]
    return colors


def dataset_root(dataset_path: str, dataset_format: str | None = None) -> Path:
    """The folder a run's images are found in, as its reader resolved it (``ingest.base.dataset_root_of``)."""
    from ingest.base import dataset_root_of

    return dataset_root_of(dataset_path, dataset_format)


@dataclass
class LoadedImage:
    image: Image.Image | None
    problem: str | None = None
    path: Path | None = None


def load_image(
    dataset_path: str,
    media: str | None,
    max_pixels: int | None = None,
    dataset_format: str | None = None,
    *,
    width: float | None = None,
    height: float | None = None,
) -> LoadedImage:
    """The item's image as RGB in the frame its boxes are in, or the reason it cannot be shown.

    Turned as its EXIF orientation says, unless the item declares (``width``, ``height``) the
    stored size of a quarter-turned photo: COCO/VOC exports often do, with boxes on the stored
    pixels (:meth:`ingest.images.ImageHeader.turns_for`).
    """
    if not media:
        return LoadedImage(None, "this item has no image file")
    limit = MAX_IMAGE_PIXELS.get() if max_pixels is None else max_pixels
    root = dataset_root(dataset_path, dataset_format)
    if not root.is_dir():
        return LoadedImage(None, f"the dataset folder {root} is not on this machine")
    try:
        path = DatasetRoot(root).find(media, SUBDIRS)
    except UnsafePath as exc:
        if "://" in media or media.startswith("/"):  # e.g. a Label Studio URL whose file is not in the folder
            return LoadedImage(
                None,
                f"image {media} is a URL or absolute path, not a file inside the dataset folder {root}: "
                "put the images next to the annotations (or in images/)",
            )
        return LoadedImage(None, f"refused: {exc}")
    if path is None:
        return LoadedImage(None, f"image file {media} not found under {root}")
    try:
        header = read_header(path, media, limit)
        turn = header.turns_for(width, height)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                return LoadedImage((ImageOps.exif_transpose(image) if turn else image).convert("RGB"), None, path)
    except ImageProblem as exc:
        return LoadedImage(None, str(exc), path)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return LoadedImage(None, f"image {media} cannot be decoded ({exc.__class__.__name__})", path)


@dataclass(frozen=True)
class Box:
    annotation_id: str
    label: str
    x: float
    y: float
    w: float
    h: float


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ValueError, TypeError):  # Pillow without FreeType
        return ImageFont.load_default()


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _text_color(color: str) -> tuple[int, int, int]:
    r, g, b = _rgb(color)
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 150 else (255, 255, 255)


def draw_boxes(
    image: Image.Image,
    boxes: Sequence[Box],
    colors: dict[str, str],
    flagged: Sequence[str] = (),
    *,
    side: int = DISPLAY_SIDE,
) -> Image.Image:
    """A display copy scaled to ``side`` pixels on its long side (lines stay crisp on screen):
    every box in its class colour with its label; flagged boxes thick, outlined in red and
    black, ringed when small, and the rest of the picture dimmed a little around them."""
    scale = side / max(image.width, image.height, 1)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    view = image.resize(size, Image.Resampling.LANCZOS) if size != image.size else image.copy()
    unit = max(1, round(max(view.width, view.height) / 640))
    flagged_set = set(flagged)
    marked = [b for b in boxes if b.annotation_id in flagged_set]
    if marked:
        dim = Image.new("RGB", view.size, (0, 0, 0))
        mask = Image.new("L", view.size, 70)
        mask_draw = ImageDraw.Draw(mask)
        for box in marked:
            x0, y0, x1, y1 = _corners(box, scale)
            mask_draw.rectangle([x0 - 6 * unit, y0 - 6 * unit, x1 + 6 * unit, y1 + 6 * unit], fill=0)
        view = Image.composite(dim, view, mask)
    draw = ImageDraw.Draw(view)
    font = _font(11 * unit)
    big_font = _font(14 * unit)
    ordered = [b for b in boxes if b.annotation_id not in flagged_set] + marked
    for box in ordered:
        color = colors.get(box.label, PALETTE[-1])
        x0, y0, x1, y1 = _corners(box, scale)
        is_flagged = box.annotation_id in flagged_set
        if is_flagged:
            if min(x1 - x0, y1 - y0) < MIN_MARK_PX * unit:
                cx, cy, radius = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2 + MIN_MARK_PX * unit
                draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], outline=HIGHLIGHT, width=2 * unit)
            draw.rectangle([x0 - 3 * unit, y0 - 3 * unit, x1 + 3 * unit, y1 + 3 * unit], outline=(0, 0, 0), width=unit)
            draw.rectangle(
                [x0 - 2 * unit, y0 - 2 * unit, x1 + 2 * unit, y1 + 2 * unit], outline=HIGHLIGHT, width=2 * unit
            )
            draw.rectangle([x0, y0, x1, y1], outline=color, width=2 * unit)
        else:
            draw.rectangle([x0, y0, x1, y1], outline=color, width=unit)
        _tag(
            draw,
            f"{box.label} #{box.annotation_id}",
            x0,
            y0,
            x1,
            color,
            big_font if is_flagged else font,
            is_flagged,
            unit,
        )
    return view


def _corners(box: Box, scale: float) -> tuple[float, float, float, float]:
    x0, y0 = box.x * scale, box.y * scale
    return x0, y0, x0 + max(box.w * scale, 1.0), y0 + max(box.h * scale, 1.0)


def _tag(
    draw: ImageDraw.ImageDraw,
    text: str,
    x0: float,
    y0: float,
    x1: float,
    color: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    flagged: bool,
    unit: int,
) -> None:
    """The label on a filled tab above the box (below its top edge when there is no room)."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    width, height = right - left + 6 * unit, bottom - top + 4 * unit
    ty = y0 - height if y0 - height >= 0 else y0
    tx = min(max(0.0, x0), max(0.0, draw.im.size[0] - width))
    fill = HIGHLIGHT if flagged else color
    draw.rectangle([tx, ty, tx + width, ty + height], fill=fill)
    draw.text((tx + 3 * unit - left, ty + 2 * unit - top), text, font=font, fill=_text_color(fill))
