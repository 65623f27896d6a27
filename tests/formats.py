"""Writers of small datasets in every box format, for reader and round-trip tests.

A dataset is a list of :class:`Img` (file name, size, boxes in pixels as x/y/w/h); each
writer produces what the corresponding labeling tool exports. Images are tiny real PNGs
(Pillow), so readers that need the image size read it from the header.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

Box = tuple[str, float, float, float, float]  # label, x, y, w, h (pixels)


@dataclass
class Img:
    name: str
    width: int
    height: int
    boxes: list[Box] = field(default_factory=list)


def png(path: Path, width: int, height: int, color: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (width, height), color).save(path, format="PNG")
    return path


def header_png(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header declares width × height (its pixel data is not complete)."""
    return bomb_png(path, width, height)


def bomb_png(path: Path, width: int = 50_000, height: int = 50_000) -> Path:
    """A few hundred bytes that declare width × height pixels: a decompression bomb header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * (width + 1) * 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def labels_of(images: list[Img]) -> list[str]:
    return sorted({box[0] for img in images for box in img.boxes})


def write_coco(root: Path, images: list[Img], names: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    data = {
        "images": [
            {"id": i + 1, "file_name": img.name, "width": img.width, "height": img.height}
            for i, img in enumerate(images)
        ],
        "annotations": [],
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(names)],
    }
    next_id = 1
    for i, img in enumerate(images):
        for label, x, y, w, h in img.boxes:
            data["annotations"].append(
                {
                    "id": next_id,
                    "image_id": i + 1,
                    "category_id": names.index(label) + 1,
                    "bbox": [x, y, w, h],
                }
            )
            next_id += 1
    path = root / "annotations.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_yolo(root: Path, images: list[Img], names: list[str], *, header_only: bool = False) -> Path:
    """Ultralytics layout; coordinates written with 6 decimals, as Ultralytics' converters do."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "data.yaml").write_text("names:\n" + "".join(f"  {i}: {n}\n" for i, n in enumerate(names)))
    for img in images:
        if header_only:
            header_png(root / "images" / img.name, img.width, img.height)
        else:
            png(root / "images" / img.name, img.width, img.height)
        rows = []
        for label, x, y, w, h in img.boxes:
            cx, cy = (x + w / 2) / img.width, (y + h / 2) / img.height
            rows.append(f"{names.index(label)} {cx:.6f} {cy:.6f} {w / img.width:.6f} {h / img.height:.6f}\n")
        (root / "labels" / img.name).with_suffix(".txt").write_text("".join(rows))
    return root


def write_voc(root: Path, images: list[Img], *, draw: bool = False) -> Path:
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    for img in images:
        if draw:
            png(root / "JPEGImages" / img.name, img.width, img.height)
        objects = "".join(
            f"<object><name>{label}</name><truncated>0</truncated><difficult>0</difficult>"
            f"<bndbox><xmin>{x!r}</xmin><ymin>{y!r}</ymin>"
            f"<xmax>{x + w!r}</xmax><ymax>{y + h!r}</ymax></bndbox></object>"
            for label, x, y, w, h in img.boxes
        )
        xml = (
            f"<annotation><folder>JPEGImages</folder><filename>{img.name}</filename>"
            f"<size><width>{img.width}</width><height>{img.height}</height><depth>3</depth></size>{objects}</annotation>"
        )
        (root / "Annotations" / img.name).with_suffix(".xml").write_text(xml)
    return root


def write_labelstudio(root: Path, images: list[Img]) -> Path:
    """Label Studio's JSON export: percent coordinates, one annotation per task."""
    root.mkdir(parents=True, exist_ok=True)
    tasks = []
    for i, img in enumerate(images):
        results = [
            {
                "id": f"r{k}",
                "type": "rectanglelabels",
                "from_name": "label",
                "to_name": "image",
                "original_width": img.width,
                "original_height": img.height,
                "value": {
                    "x": x / img.width * 100,
                    "y": y / img.height * 100,
                    "width": w / img.width * 100,
                    "height": h / img.height * 100,
                    "rotation": 0,
                    "rectanglelabels": [label],
                },
            }
            for k, (label, x, y, w, h) in enumerate(img.boxes)
        ]
        tasks.append(
            {
                "id": i + 1,
                "data": {"image": f"/data/upload/1/{img.name}"},
                "annotations": [{"id": 100 + i, "result": results}],
            }
        )
    path = root / "export.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return path
