"""Synthetic street-scene detection datasets with known, injected defects.

Used by ``labelgate demo``, the tests and the benches; nothing is downloaded. Objects are
drawn with Pillow (cars, pedestrians, cones... as simple shapes in class colours) and written
as COCO JSON. A ground-truth file (``labelgate_truth.json``) records each annotation's true
class and box and the defect injected into it, so tests can assert exact findings and the
simulated model provider can answer from the truth.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLASSES: dict[str, dict[str, Any]] = {
    # colour, width/height ratio, height range in px (at 640x480)
    "car": {"color": (52, 101, 164), "ratio": 1.8, "h": (40, 110), "group": "vehicle"},
    "truck": {"color": (206, 92, 0), "ratio": 2.2, "h": (70, 150), "group": "vehicle"},
    "bus": {"color": (196, 160, 0), "ratio": 2.6, "h": (80, 160), "group": "vehicle"},
    "pedestrian": {"color": (204, 0, 0), "ratio": 0.4, "h": (50, 150), "group": "human"},
    "bicycle": {"color": (117, 80, 123), "ratio": 1.4, "h": (35, 80), "group": "cycle"},
    "motorcycle": {"color": (78, 154, 6), "ratio": 1.5, "h": (35, 80), "group": "cycle"},
    "traffic_cone": {"color": (245, 121, 0), "ratio": 0.6, "h": (20, 45), "group": "static"},
    "barrier": {"color": (186, 189, 182), "ratio": 3.0, "h": (20, 45), "group": "static"},
}
VISIBILITY = ["v0-40", "v40-60", "v60-80", "v80-100"]
DEFECTS = (
    "zero_area",
    "out_of_bounds",
    "duplicate",
    "unknown_label",
    "tiny",
    "loose_box",
    "wrong_class",
    "missing_visibility",
)
MALFORMED = (
    "bbox_three_numbers",
    "unknown_image",
    "duplicate_annotation_id",
    "missing_category",
    "image_without_file_name",
)


@dataclass
class SyntheticSpec:
    images: int = 40
    width: int = 640
    height: int = 480
    boxes_per_image: tuple[int, int] = (3, 8)
    defect_rate: float = 0.15
    malformed: bool = True
    draw_images: bool = True
    seed: int = 7
    image_format: str = "png"


@dataclass
class SyntheticDataset:
    root: Path
    coco: Path
    truth: Path
    annotations: int
    images: int
    defects: dict[str, int] = field(default_factory=dict)


def _attributes(label: str, rng: random.Random, visible: str) -> dict[str, Any]:
    group = CLASSES[label]["group"]
    attrs: dict[str, Any] = {"visibility": visible, "occluded": visible != "v80-100", "truncated": False}
    if group == "vehicle":
        attrs["vehicle_activity"] = rng.choice(["moving", "parked", "stopped"])
    elif group == "cycle":
        attrs["has_rider"] = rng.random() < 0.6
    elif group == "human":
        attrs["human_activity"] = rng.choice(["moving", "standing", "sitting_lying_down"])
    return attrs


def _place(label: str, spec: SyntheticSpec, rng: random.Random) -> list[float]:
    info = CLASSES[label]
    scale = spec.height / 480
    h = rng.uniform(*info["h"]) * scale
    w = max(4.0, h * info["ratio"] * rng.uniform(0.85, 1.15))
    x = rng.uniform(0, max(1.0, spec.width - w))
    y = rng.uniform(spec.height * 0.25, max(spec.height * 0.25 + 1, spec.height - h))
    return [round(x, 1), round(y, 1), round(w, 1), round(h, 1)]


def generate(out: str | Path, spec: SyntheticSpec | None = None) -> SyntheticDataset:
    """Write images (optional), ``annotations.json`` and ``labelgate_truth.json`` under ``out``."""
    spec = spec or SyntheticSpec()
    rng = random.Random(spec.seed)
    root = Path(out)
    (root / "images").mkdir(parents=True, exist_ok=True)
    labels = list(CLASSES)
    categories = [{"id": i + 1, "name": name, "supercategory": CLASSES[name]["group"]} for i, name in enumerate(labels)]
    categories.append({"id": len(labels) + 1, "name": "tram", "supercategory": "vehicle"})
    cat_id = {c["name"]: c["id"] for c in categories}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    truth: dict[str, Any] = {
        "annotations": {},
        "spec": spec.__dict__ | {"boxes_per_image": list(spec.boxes_per_image)},
    }
    defects: dict[str, int] = {d: 0 for d in DEFECTS}
    forced = list(DEFECTS) if spec.defect_rate > 0 else []
    next_ann = 1
    for index in range(spec.images):
        file_name = f"scene_{index:05d}.{spec.image_format}"
        images.append({"id": index + 1, "file_name": file_name, "width": spec.width, "height": spec.height})
        objects: list[dict[str, Any]] = []
        for _ in range(rng.randint(*spec.boxes_per_image)):
            label = rng.choice(labels)
            true_box = _place(label, spec, rng)
            visible = rng.choices(VISIBILITY, weights=[1, 1, 2, 8])[0]
            objects.append({"label": label, "box": true_box, "visible": visible})
        for obj in objects:
            label, box = obj["label"], list(obj["box"])
            attrs = _attributes(label, rng, obj["visible"])
            defect = None
            if forced:
                defect = forced.pop(0)
            elif rng.random() < spec.defect_rate:
                defect = rng.choice(DEFECTS)
            written_label = label
            if defect == "zero_area":
                box[2] = 0.0
            elif defect == "out_of_bounds":
                box[0] = round(spec.width - box[2] * 0.5, 1)
            elif defect == "tiny":
                box[3] = round(rng.uniform(3, 8), 1)
                box[2] = round(box[3] * CLASSES[label]["ratio"], 1)
            elif defect == "unknown_label":
                written_label = "tram"
            elif defect == "loose_box":
                grow = 0.5
                box = [
                    round(box[0] - box[2] * grow / 2, 1),
                    round(box[1] - box[3] * grow / 2, 1),
                    round(box[2] * (1 + grow), 1),
                    round(box[3] * (1 + grow), 1),
                ]
                box[0], box[1] = max(box[0], 0.0), max(box[1], 0.0)
                box[2] = min(box[2], spec.width - box[0])
                box[3] = min(box[3], spec.height - box[1])
            elif defect == "wrong_class":
                written_label = rng.choice([x for x in labels if x != label])
            elif defect == "missing_visibility":
                attrs.pop("visibility")
            if defect:
                defects[defect] += 1
            ann_id = next_ann
            next_ann += 1
            x, y, w, h = box
            attrs["truncated"] = x <= 1 or y <= 1 or x + w >= spec.width - 1 or y + h >= spec.height - 1
            if defect == "out_of_bounds":
                attrs["truncated"] = True
            annotations.append(
                {
                    "id": ann_id,
                    "image_id": index + 1,
                    "category_id": cat_id[written_label],
                    "bbox": box,
                    "area": round(max(w, 0) * max(h, 0), 1),
                    "iscrowd": 0,
                    "attributes": attrs,
                }
            )
            truth["annotations"][str(ann_id)] = {
                "image": file_name,
                "label": label,
                "written_label": written_label,
                "box": obj["box"],
                "written_box": box,
                "defect": defect,
                "visible": obj["visible"],
            }
            if defect == "duplicate":
                dup_id = next_ann
                next_ann += 1
                dup_box = [round(v + d, 1) for v, d in zip(box, (1.0, 1.0, -1.0, -1.0), strict=True)]
                annotations.append(
                    {
                        "id": dup_id,
                        "image_id": index + 1,
                        "category_id": cat_id[label],
                        "bbox": dup_box,
                        "area": round(dup_box[2] * dup_box[3], 1),
                        "iscrowd": 0,
                        "attributes": dict(attrs),
                    }
                )
                truth["annotations"][str(dup_id)] = {
                    "image": file_name,
                    "label": label,
                    "written_label": label,
                    "box": obj["box"],
                    "written_box": dup_box,
                    "defect": "duplicate",
                    "duplicate_of": str(ann_id),
                    "visible": obj["visible"],
                }
                truth["annotations"][str(ann_id)]["defect"] = None
        if spec.draw_images:
            _draw(root / "images" / file_name, spec, objects, rng)
    if spec.malformed:
        annotations += _malformed(next_ann, cat_id)
        images.append({"id": spec.images + 1, "width": spec.width, "height": spec.height})
        truth["malformed"] = list(MALFORMED)
    coco = {
        "info": {"description": "labelgate synthetic street scenes", "version": "1.0"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    coco_path = root / "annotations.json"
    coco_path.write_text(json.dumps(coco), encoding="utf-8")
    truth_path = root / "labelgate_truth.json"
    truth_path.write_text(json.dumps(truth), encoding="utf-8")
    return SyntheticDataset(root, coco_path, truth_path, len(annotations), len(images), defects)


def _malformed(start: int, cat_id: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"id": start, "image_id": 1, "category_id": cat_id["car"], "bbox": [10, 10, 30]},
        {"id": start + 1, "image_id": 999_999, "category_id": cat_id["car"], "bbox": [10, 10, 30, 20]},
        {"id": 1, "image_id": 1, "category_id": cat_id["car"], "bbox": [5, 5, 20, 20]},
        {"id": start + 2, "image_id": 1, "bbox": [5, 5, 20, 20]},
    ]


def _draw(path: Path, spec: SyntheticSpec, objects: list[dict[str, Any]], rng: random.Random) -> None:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (spec.width, spec.height), (135, 178, 214))
    draw = ImageDraw.Draw(image)
    horizon = int(spec.height * 0.3)
    draw.rectangle([0, horizon, spec.width, spec.height], fill=(88, 88, 92))
    for lane in range(0, spec.width, 80):
        draw.rectangle([lane, int(spec.height * 0.75), lane + 40, int(spec.height * 0.75) + 4], fill=(230, 230, 230))
    for obj in sorted(objects, key=lambda o: o["box"][1] + o["box"][3]):
        x, y, w, h = obj["box"]
        info = CLASSES[obj["label"]]
        color = info["color"]
        group = info["group"]
        if group == "vehicle":
            draw.rounded_rectangle([x, y + h * 0.25, x + w, y + h * 0.85], radius=max(2, int(h * 0.1)), fill=color)
            draw.rectangle([x + w * 0.2, y, x + w * 0.75, y + h * 0.3], fill=color)
            draw.rectangle([x + w * 0.25, y + h * 0.05, x + w * 0.7, y + h * 0.25], fill=(200, 220, 240))
            r = h * 0.15
            for cx in (x + w * 0.22, x + w * 0.78):
                draw.ellipse([cx - r, y + h - 2 * r, cx + r, y + h], fill=(20, 20, 20))
        elif group == "human":
            draw.ellipse([x + w * 0.25, y, x + w * 0.75, y + h * 0.2], fill=(240, 200, 170))
            draw.rectangle([x + w * 0.15, y + h * 0.2, x + w * 0.85, y + h * 0.6], fill=color)
            draw.rectangle([x + w * 0.2, y + h * 0.6, x + w * 0.45, y + h], fill=(40, 40, 90))
            draw.rectangle([x + w * 0.55, y + h * 0.6, x + w * 0.8, y + h], fill=(40, 40, 90))
        elif group == "cycle":
            r = h * 0.3
            for cx in (x + r, x + w - r):
                draw.ellipse([cx - r, y + h - 2 * r, cx + r, y + h], outline=(20, 20, 20), width=max(2, int(h * 0.06)))
            draw.line(
                [x + r, y + h - r, x + w * 0.5, y + h * 0.35, x + w - r, y + h - r],
                fill=color,
                width=max(2, int(h * 0.08)),
            )
        elif obj["label"] == "traffic_cone":
            draw.polygon([(x + w / 2, y), (x + w, y + h), (x, y + h)], fill=color)
            draw.rectangle([x + w * 0.3, y + h * 0.45, x + w * 0.7, y + h * 0.55], fill=(250, 250, 250))
        else:
            draw.rectangle([x, y, x + w, y + h], fill=color)
            for stripe in range(int(x), int(x + w), max(6, int(h))):
                draw.line([stripe, y + h, stripe + h * 0.6, y], fill=(204, 0, 0), width=3)
    suffix = spec.image_format.lower()
    image.save(path, format="PNG" if suffix == "png" else "JPEG", quality=88)
