"""Builders for small datasets and rulebooks used across tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_RULEBOOK = REPO / "examples" / "nuimages-boxes.yaml"


def coco(
    images: list[dict[str, Any]], annotations: list[dict[str, Any]], categories: list[str] | None = None
) -> dict[str, Any]:
    names = categories or ["car", "pedestrian", "van"]
    return {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(names)],
    }


def image(image_id: int, file_name: str | None = None, width: int = 640, height: int = 480) -> dict[str, Any]:
    return {"id": image_id, "file_name": file_name or f"img_{image_id}.jpg", "width": width, "height": height}


def box(ann_id: Any, image_id: Any, bbox: Any, category: int = 1, **extra: Any) -> dict[str, Any]:
    return {"id": ann_id, "image_id": image_id, "category_id": category, "bbox": bbox, **extra}


def write_coco(folder: Path, data: dict[str, Any], name: str = "annotations.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_rulebook(folder: Path, text: str, name: str = "rules.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL_RULEBOOK = """\
rulebook: minimal
version: "1"
guideline: Test guideline
applies_to: image_boxes
taxonomy: [car, pedestrian]
rules:
  - id: GEO-001
    clause: "2.1 boxes have positive size"
    when: box.width <= 0 or box.height <= 0
    severity: critical
    message: "Box {annotation.id} is degenerate ({box.width}x{box.height})"
  - id: GEO-002
    clause: "2.2 boxes stay inside the image"
    when: not box.in_bounds
    severity: major
  - id: DUP-001
    clause: "2.3 one box per object"
    when: box.max_iou_earlier_same_class >= 0.9
    severity: major
    message: "Box {annotation.id} duplicates {box.duplicate_of}"
  - id: TAX-001
    clause: "3.1 labels come from the taxonomy"
    when: not label.in_taxonomy
    severity: critical
scoring: {start: 100, penalty: {critical: 100, major: 25, minor: 5}, pass_at: 75}
"""


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> CliResult:
    """Run the real ``labelgate`` entry point in a subprocess."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)
