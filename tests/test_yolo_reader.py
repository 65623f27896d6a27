"""YOLO: normalized rows become pixel boxes; bad rows, orphan labels, hostile paths and
decompression bombs are quarantined with reasons; counts balance."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.base import open_dataset
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
    with pytest.raises(DatasetError, match=r"no class names for this YOLO dataset \(looked .*\): add data\.yaml"):
        read(root, "yolo")
    (root / "data.yaml").write_text("names: [car, bus\n")
    with pytest.raises(DatasetError, match=r"data.yaml: invalid YAML at line 2, column 1"):
        read(root, "yolo")
    (root / "data.yaml").write_text("path: /etc\nnames: {0: car, 2: bus}\n")
    with pytest.raises(DatasetError, match=r"'names' ids must be 0..1 without gaps"):
        read(root, "yolo")


def test_side_by_side_label_files_without_an_image_are_quarantined_with_their_rows(tmp_path: Path) -> None:
    root = tmp_path / "darknet"
    (root / "obj.names").parent.mkdir(parents=True)
    (root / "obj.names").write_text("car\nbus\n")
    (root / "train.txt").write_text("data/obj_train_data/a.png\n")  # Darknet's image list: not a label file
    png(root / "obj_train_data" / "a.png", 10, 10)
    (root / "obj_train_data" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "obj_train_data" / "b.txt").write_text("1 0.5 0.5 0.2 0.2\n\n0 0.1 0.1 0.1 0.1\n")
    (root / "obj_train_data" / "README.txt").write_text("Exported from CVAT\n")
    items, bad = read(root)
    assert [i.id for i in items] == ["obj_train_data/a.png"]
    assert [(q.level, q.locator, q.reason, q.raw) for q in bad] == [
        (
            "item",
            "obj_train_data/b.txt",
            "label file obj_train_data/b.txt has no image next to it or under images/",
            "",
        ),
        (
            "annotation",
            "obj_train_data/b.txt:1",
            "belongs to quarantined item obj_train_data/b.txt",
            "1 0.5 0.5 0.2 0.2",
        ),
        (
            "annotation",
            "obj_train_data/b.txt:3",
            "belongs to quarantined item obj_train_data/b.txt",
            "0 0.1 0.1 0.1 0.1",
        ),
    ]


def test_classes_txt_in_labels_is_found_and_never_read_as_labels(tmp_path: Path) -> None:
    root = tmp_path / "labelimg"
    png(root / "images" / "a.png", 10, 10)
    (root / "labels").mkdir()
    (root / "labels" / "a.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    (root / "labels" / "classes.txt").write_text("car\nbus\n")
    items, bad = read(root)
    assert bad == [] and [a.label for a in items[0].annotations] == ["bus"]
    (root / "classes.txt").write_text("car\nbus\n")  # a second copy at the root: still not a label file
    assert read(root) == (items, [])
    for file in (root / "classes.txt", root / "labels" / "classes.txt"):
        file.unlink()
    with pytest.raises(DatasetError, match=r"classes\.txt and obj\.names here and in labels/\): add data\.yaml"):
        read(root, "yolo")


def _ultralytics(root: Path) -> None:
    for split in ("train", "val", "extra"):
        png(root / "images" / split / f"{split}.png", 10, 10)
        (root / "labels" / split).mkdir(parents=True)
        (root / "labels" / split / f"{split}.txt").write_text("0 0.5 0.5 0.2 0.2\n")


def test_dataset_yaml_passed_as_the_dataset_reads_its_split_folders(tmp_path: Path) -> None:
    _ultralytics(tmp_path / "datasets" / "coco8")
    config = tmp_path / "cfg" / "coco8.yaml"
    config.parent.mkdir()
    config.write_text("path: ../datasets/coco8\ntrain: images/train\nval: images/val\ntest:\nnames: {0: car}\n")
    items, bad = read(config)
    assert bad == [] and [i.id for i in items] == ["images/train/train.png", "images/val/val.png"]
    assert [i.annotations[0].id for i in items] == ["labels/train/train.txt:1", "labels/val/val.txt:1"]
    absolute = tmp_path / "abs.yaml"
    absolute.write_text(f"path: {tmp_path / 'datasets' / 'coco8'}\nval: images/val\nnames: [car]\n")
    assert [i.id for i in read(absolute)[0]] == ["images/val/val.png"]
    roboflow = tmp_path / "rf"  # Roboflow: the YAML beside train/, written as ../train/images
    png(roboflow / "train" / "images" / "a.png", 10, 10)
    (roboflow / "train" / "labels").mkdir(parents=True)
    (roboflow / "data.yaml").write_text("train: ../train/images\nnc: 1\nnames: ['car']\n")
    assert [i.id for i in read(roboflow / "data.yaml")[0]] == ["train/images/a.png"]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("train: train.txt", r"train: train\.txt is a file \(a list of images\?\); labelgate reads image folders"),
        ("train: https://x.org/t.zip", r"train: 'https://x\.org/t\.zip' is not a local folder"),
        ("train: ../../etc", r"train: \.\./\.\./etc is outside the dataset folder"),
        ("val: images/nope", r"val: folder .*images/nope not found"),
        ("path: nowhere\ntrain: images/train", r"'path' 'nowhere' is not a folder"),
        ("train: images/train\nnc: 3", r"nc is 3 but 'names' lists 1 classes: make them agree"),
    ],
)
def test_dataset_yaml_entries_that_cannot_be_read_are_refused(tmp_path: Path, entries: str, message: str) -> None:
    _ultralytics(tmp_path)
    (tmp_path / "train.txt").write_text("images/train/train.png\n")
    (tmp_path / "data.yaml").write_text(f"{entries}\nnames: [car]\n")
    with pytest.raises(DatasetError, match=r"data\.yaml: " + message):
        read(tmp_path / "data.yaml", "yolo")


def test_dataset_yaml_whose_split_folders_are_empty_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "data.yaml").write_text("train: images/train\nnames: [car]\n")
    with pytest.raises(DatasetError, match=r"data\.yaml: no images or YOLO label files in images/train/ under "):
        read(tmp_path / "data.yaml", "yolo")


def test_exif_rotated_photo_converts_at_its_displayed_size(tmp_path: Path) -> None:
    from PIL import Image

    root = write_yolo(tmp_path / "d", [], ["car"])
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 64x48, shown rotated a quarter turn: 48x64
    Image.new("RGB", (64, 48)).save(root / "images" / "phone.jpg", exif=exif.tobytes())
    (root / "labels" / "phone.txt").write_text("0 0.5 0.5 0.25 0.5\n")
    [item], _ = read(root)
    assert (item.width, item.height) == (48, 64)
    assert item.annotations[0].bbox == (18.0, 16.0, 12.0, 32.0)


def test_dataset_yaml_labels_twin_symlinked_out_of_the_dataset_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    png(outside / "private.png", 10, 10)
    (outside / "a.txt").write_text("0 0.5 0.5 0.2 0.2\nSECRET 1 2 3 4\n")
    root = tmp_path / "d"
    png(root / "images" / "train" / "a.png", 10, 10)
    (root / "labels").mkdir()
    os.symlink(outside, root / "labels" / "train")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nnames: [car]\n")
    with pytest.raises(DatasetError, match=r"data\.yaml: labels of images/train/ refused: .*leads outside"):
        read(root / "data.yaml", "yolo")
    (outside / "data.yaml").write_text("names: [car]\n")
    (root / "data.yaml").unlink()
    os.symlink(outside / "data.yaml", root / "data.yaml")  # found in the folder, leads out
    with pytest.raises(DatasetError, match=r"dataset YAML refused: .*leads outside"):
        read(root, "yolo")


def test_fingerprint_never_reads_label_files_symlinked_out_of_the_dataset(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("0 0.5 0.5 0.5 0.5\n")
    root = write_yolo(tmp_path / "d", [Img("a.png", 20, 20), Img("b.png", 20, 20)], ["car"])
    (root / "labels" / "a.txt").unlink()
    os.symlink(secret, root / "labels" / "a.txt")
    files = open_dataset(root, "yolo").files()
    assert sorted(root.resolve() / p for p in ("data.yaml", "labels/b.txt")) == sorted(f.resolve() for f in files)


def test_side_by_side_labels_inside_an_images_folder(tmp_path: Path) -> None:
    root = tmp_path / "sbs"
    (root / "classes.txt").parent.mkdir()
    (root / "classes.txt").write_text("car\n")
    png(root / "images" / "a.png", 100, 100)
    (root / "images" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "images" / "b.txt").write_text("0 0.5 0.5 0.2 0.2\n")  # no image: an orphan
    png(root / "images" / "c.png", 100, 100)  # a labels/ twin wins over the .txt beside it
    (root / "images" / "c.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "labels").mkdir()
    (root / "labels" / "c.txt").write_text("0 0.1 0.1 0.2 0.2\n")
    items, bad = read(root)
    assert [(i.id, [a.id for a in i.annotations]) for i in items] == [
        ("images/a.png", ["images/a.txt:1"]),
        ("images/c.png", ["labels/c.txt:1"]),
    ]
    assert [(q.level, q.locator) for q in bad] == [("item", "images/b.txt"), ("annotation", "images/b.txt:1")]


def test_dataset_yaml_missing_test_split_is_skipped_but_train_and_val_are_required(tmp_path: Path) -> None:
    root = tmp_path / "rf"
    for split, name in (("train", "a"), ("valid", "b")):
        png(root / split / "images" / f"{name}.png", 10, 10)
        (root / split / "labels").mkdir(parents=True)
        (root / split / "labels" / f"{name}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    png(root / "stray" / "c.png", 10, 10)  # outside the splits: never read
    config = root / "data.yaml"
    config.write_text("train: ../train/images\nval: ../valid/images\ntest: ../test/images\nnc: 1\nnames: [car]\n")
    items, bad = read(config)
    assert bad == [] and [i.id for i in items] == ["train/images/a.png", "valid/images/b.png"]
    config.write_text("test: ../test/images\nnames: [car]\n")  # nothing left to read: not the whole folder
    with pytest.raises(
        DatasetError, match=r"data\.yaml: test: \.\./test/images: folder not found: fix the entry, or add train"
    ):
        read(config, "yolo")
    config.write_text("train: ../train/images\nval: ../nope/images\nnames: [car]\n")
    with pytest.raises(DatasetError, match=r"data\.yaml: val: folder .*nope/images not found"):
        read(config, "yolo")
