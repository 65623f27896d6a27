"""Every reader that opens an image refuses decompression bombs from the header, with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_exif_orientation_gives_the_displayed_size_and_either_size_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image, ImageFile

    from ingest.images import read_header
    from ingest.model import Item
    from rulebook.model import Taxonomy
    from scorers.measure import MeasureContext
    from scorers.measure.files import ImageFile as ImageFileMeasure

    exif = Image.Exif()
    exif[0x0112] = 6  # stored 64x48, shown rotated a quarter turn
    Image.new("RGB", (64, 48)).save(tmp_path / "phone.jpg", exif=exif.tobytes())
    Image.new("RGB", (64, 48)).save(tmp_path / "plain.png")

    def no_decoding(self: object) -> None:
        raise AssertionError("a header read decoded pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    assert (read_header(tmp_path / "phone.jpg").width, read_header(tmp_path / "phone.jpg").height) == (48, 64)
    assert (read_header(tmp_path / "plain.png").width, read_header(tmp_path / "plain.png").height) == (64, 48)
    measure = ImageFileMeasure(tmp_path, decode_files=False)
    # COCO/VOC exports often declare the stored size (Label Studio's does): both sizes match
    for width, height, matches in ((48, 64, True), (64, 48, True), (64, 64, False)):
        row: dict[str, object] = {}
        item = Item("phone.jpg", "image", width=width, height=height, media="phone.jpg")
        measure.measure(item, row, [], MeasureContext(Taxonomy(labels=["car"])))
        assert row["image.size_matches"] is matches
        assert (row["image.file_width"], row["image.file_height"]) == (48, 64)
