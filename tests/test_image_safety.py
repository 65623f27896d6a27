"""Every reader that opens an image refuses decompression bombs from the header, with a reason."""

from __future__ import annotations

from pathlib import Path

from tests.formats import bomb_png
from tests.helpers import coco, image, write_coco
from tests.readers import read, reasons

REFUSED = (
    "image {name} has 2,500,000,000 pixels, over the limit of 89,478,485 (LABELGATE_MAX_IMAGE_PIXELS): "
    "refused as a possible decompression bomb"
)


def test_coco_image_without_size_is_measured_safely(tmp_path: Path) -> None:
    bomb_png(tmp_path / "images" / "bomb.png")
    data = coco([image(1, "ok.jpg"), {"id": 2, "file_name": "bomb.png"}], [])
    items, bad = read(write_coco(tmp_path, data), "coco")
    assert [i.id for i in items] == ["ok.jpg"]
    assert reasons(bad) == {
        ("item", "images[1]"): "image 2 has no valid width/height and its file was refused: "
        + REFUSED.format(name="bomb.png")
    }


def test_voc_without_size_is_measured_safely(tmp_path: Path) -> None:
    bomb_png(tmp_path / "JPEGImages" / "bomb.png")
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "bomb.xml").write_text("<annotation><filename>bomb.png</filename></annotation>")
    items, bad = read(tmp_path, "voc")
    assert items == []
    assert reasons(bad) == {
        ("item", "Annotations/bomb.xml"): "no valid <size> and the image cannot be measured: "
        + REFUSED.format(name="JPEGImages/bomb.png")
    }
