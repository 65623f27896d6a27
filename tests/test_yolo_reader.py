"""YOLO: normalized rows become pixel boxes; bad rows, orphan labels, hostile paths and
decompression bombs are quarantined with reasons; counts balance."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labelgate.errors import DatasetError
from tests.formats import Img, bomb_png, png, write_yolo
from tests.readers import read, reasons


def test_rows_become_pixel_boxes_with_file_line_ids(tmp_path: Path) -> None:
    root = write_yolo(
        tmp_path / "d",
        [Img("a.png", 200, 100, [("car", 20, 10, 40, 30)]), Img("b.png", 50, 50)],
        ["car", "bus"],
    )
    items, bad = read(root)
    assert bad == []
    assert [i.id for i in items] == ["images/a.png", "images/b.png"]
    a, b = items
    assert (a.width, a.height, a.media) == (200, 100, "images/a.png")
    [ann] = a.annotations
    assert ann.id == "labels/a.txt:1" and ann.label == "car"
    assert ann.bbox == pytest.approx((20, 10, 40, 30), abs=1e-3)
    assert b.annotations == []  # an image with an empty label file has no annotations


def test_classes_txt_side_by_side_layout_and_image_without_label_file(tmp_path: Path) -> None:
    root = tmp_path / "darknet"
    png(root / "obj" / "x.jpg.png", 10, 10)  # not paired with anything: an image without labels
    png(root / "obj" / "y.png", 100, 100)
    (root / "obj" / "y.txt").write_text("1 0.5 0.5 0.2 0.4\n")
    (root / "classes.txt").write_text("cat\ndog\n")
    (root / "train.txt").write_text("obj/y.png\n")  # a list of images, not a label file
    items, bad = read(root)
    assert bad == []
    assert [(i.id, [a.label for a in i.annotations]) for i in items] == [
        ("obj/x.jpg.png", []),
        ("obj/y.png", ["dog"]),
    ]
    assert items[1].annotations[0].bbox == pytest.approx((40, 30, 20, 40))


def test_malformed_rows_and_orphan_label_files_are_quarantined(tmp_path: Path) -> None:
    root = write_yolo(tmp_path / "d", [Img("a.png", 100, 100)], ["car", "bus"])
    (root / "labels" / "a.txt").write_bytes(
        b"0 0.5 0.5 0.1 0.1\n"
        b"\n"
        b"7 0.5 0.5 0.1 0.1\n"
        b"x 0.5 0.5 0.1 0.1\n"
        b"0 0.5 0.5 0.1\n"
        b"0 0.1 0.1 0.2 0.1 0.3 0.3 0.5\n"
        b"1 nan 0.5 0.1 0.1\n"
        b"1.0 0.5 0.5 0.2 0.2\n"
        b"\xff\xfe 0.5\n"
    )
    (root / "labels" / "ghost.txt").write_text("0 0.5 0.5 0.1 0.1\n1 0.2 0.2 0.1 0.1\n")
    items, bad = read(root)
    [item] = items
    assert [(a.id, a.label) for a in item.annotations] == [
        ("labels/a.txt:1", "car"),
        ("labels/a.txt:8", "bus"),
    ]
    assert item.quarantined_annotations == 6
    assert reasons(bad) == {
        ("annotation", "labels/a.txt:3"): "class id 7 is not in the class names (0..1)",
        ("annotation", "labels/a.txt:4"): "class id 'x' is not a whole number",
        ("annotation", "labels/a.txt:5"): "expected 5 values 'class x_center y_center width height', got 4",
        ("annotation", "labels/a.txt:6"): "expected 5 values 'class x_center y_center width height', got 8 "
        "(segmentation, oriented-box and prediction rows are not read)",
        ("annotation", "labels/a.txt:7"): "coordinates must be finite numbers, got nan 0.5 0.1 0.1",
        ("annotation", "labels/a.txt:9"): "not valid UTF-8 text",
        ("item", "labels/ghost.txt"): "label file labels/ghost.txt has no image next to it or under images/",
        ("annotation", "labels/ghost.txt:1"): "belongs to quarantined item labels/ghost.txt",
        ("annotation", "labels/ghost.txt:2"): "belongs to quarantined item labels/ghost.txt",
    }


def test_decompression_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    root = write_yolo(tmp_path / "d", [Img("ok.png", 10, 10)], ["car"])
    bomb_png(root / "images" / "bomb.png")
    (root / "labels" / "bomb.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    assert (root / "images" / "bomb.png").stat().st_size < 20_000
    items, bad = read(root)
    assert [i.id for i in items] == ["images/ok.png"]
    assert reasons(bad) == {
        (
            "item",
            "images/bomb.png",
        ): "image images/bomb.png has 2,500,000,000 pixels, over the limit of 89,478,485 "
        "(LABELGATE_MAX_IMAGE_PIXELS): refused as a possible decompression bomb",
        ("annotation", "labels/bomb.txt:1"): "belongs to quarantined item images/bomb.png",
    }


def test_pixel_limit_is_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELGATE_MAX_IMAGE_PIXELS", "5000")
    root = write_yolo(tmp_path / "d", [Img("big.png", 100, 60), Img("small.png", 50, 50)], ["car"])
    items, bad = read(root)
    assert [i.id for i in items] == ["images/small.png"]
    assert [q.reason for q in bad] == [
        "image images/big.png has 6,000 pixels, over the limit of 5,000 (LABELGATE_MAX_IMAGE_PIXELS): "
        "refused as a possible decompression bomb"
    ]


def test_symlinks_escaping_the_root_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("0 0.5 0.5 0.5 0.5\n")
    png(outside / "elsewhere.png", 20, 20)
    root = write_yolo(tmp_path / "d", [Img("a.png", 20, 20)], ["car"])
    os.symlink(outside / "elsewhere.png", root / "images" / "linked.png")
    (root / "labels" / "a.txt").unlink()
    os.symlink(secret, root / "labels" / "a.txt")
    items, bad = read(root)
    assert items == []
    assert reasons(bad) == {
        (
            "item",
            "images/a.png",
        ): "unsafe path: path 'labels/a.txt' leads outside the dataset root (symlink?)",
        (
            "item",
            "images/linked.png",
        ): "unsafe path: path 'images/linked.png' leads outside the dataset root (symlink?)",
    }


def test_broken_image_file_is_quarantined(tmp_path: Path) -> None:
    root = write_yolo(tmp_path / "d", [Img("a.png", 20, 20)], ["car"])
    (root / "images" / "a.png").write_bytes(b"not a png at all")
    _, bad = read(root)
    assert [q.reason for q in bad] == [
        f"image images/a.png cannot be read as an image (cannot identify image file '{root / 'images' / 'a.png'}')"
    ]


def test_missing_class_names_and_bad_yaml_fail_before_reading(tmp_path: Path) -> None:
    root = tmp_path / "d"
    png(root / "images" / "a.png", 10, 10)
    (root / "labels").mkdir()
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DatasetError, match=r"no class names for this YOLO dataset: add data\.yaml"):
        read(root, "yolo")
    (root / "data.yaml").write_text("names: [car, bus\n")
    with pytest.raises(DatasetError, match=r"data.yaml: invalid YAML at line 2, column 1"):
        read(root, "yolo")
    (root / "data.yaml").write_text("path: /etc\nnames: {0: car, 2: bus}\n")
    with pytest.raises(DatasetError, match=r"'names' ids must be 0..1 without gaps"):
        read(root, "yolo")
