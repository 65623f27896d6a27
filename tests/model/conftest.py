from __future__ import annotations

from pathlib import Path

import pytest

from ingest.synthetic import SyntheticDataset, SyntheticSpec, generate


@pytest.fixture(scope="session")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> SyntheticDataset:
    """A small synthetic street-scene dataset with images and ground truth (shared, read-only)."""
    return generate(tmp_path_factory.mktemp("scenes"), SyntheticSpec(images=24, seed=3))


JUDGED_RULEBOOK = """\
rulebook: judged
version: "1"
guideline: Test guideline
applies_to: image_boxes
taxonomy: [car, pedestrian]
judgments:
  per: annotation
  fields:
    box_fit: {type: enum, values: [tight, loose], question: Is the box tight around the object?}
    confidence: {type: number, min: 0, max: 1, question: How sure are you?}
rules:
  - id: FIT-001
    clause: "5.1 boxes are tight"
    when: judgment.box_fit == "loose"
    severity: major
scoring: {start: 100, penalty: {critical: 100, major: 25, minor: 5}, pass_at: 75}
"""


def one_box_dataset(folder: Path) -> Path:
    """One real image with one box, as COCO."""
    import json

    from PIL import Image, ImageDraw

    (folder / "images").mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (320, 240), (90, 90, 90))
    ImageDraw.Draw(image).rectangle([100, 80, 180, 140], fill=(40, 80, 200))
    image.save(folder / "images" / "car.png")
    data = {
        "images": [{"id": 1, "file_name": "car.png", "width": 320, "height": 240}],
        "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [100, 80, 80, 60]}],
        "categories": [{"id": 1, "name": "car"}],
    }
    path = folder / "annotations.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path
