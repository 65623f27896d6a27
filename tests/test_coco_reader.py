"""COCO ingestion: malformed records are quarantined with reasons and nothing is lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import labelgate
from ingest.base import open_dataset
from ingest.model import Item, Quarantined
from labelgate.errors import DatasetError
from tests.helpers import MINIMAL_RULEBOOK, box, coco, image, write_coco, write_rulebook


def _read(path: Path) -> tuple[list[Item], list[Quarantined]]:
    items, bad = [], []
    for record in open_dataset(path, "coco").records():
        (items if isinstance(record, Item) else bad).append(record)
    return items, bad  # type: ignore[return-value]


MALFORMED = coco(
    [
        image(1, "a.jpg"),
        image(2, "b.jpg"),
        {"id": 3, "width": 640, "height": 480},  # no file_name
        image(2, "c.jpg"),  # duplicate image id
        image(4, "a.jpg"),  # duplicate file_name
        image(5, "../../etc/passwd"),  # escapes the dataset root
        {"id": 6, "file_name": "d.jpg"},  # no size, no file to read
        "not an object",
    ],
    [
        box(1, 1, [10, 10, 20, 20]),
        box(2, 1, [10, 10, 20]),  # bbox of 3 numbers
        box(3, 1, [10, "x", 20, 20]),  # non-number
        box(4, 1, [10, 10, 20, True]),  # bool is not a number
        box(5, 99, [10, 10, 20, 20]),  # unknown image
        box(1, 2, [10, 10, 20, 20]),  # duplicate annotation id
        {"id": 7, "image_id": 2, "bbox": [1, 1, 5, 5]},  # no category_id
        box(8, 2, [1, 1, 5, 5], category=42),  # unknown category
        box(9, 5, [1, 1, 5, 5]),  # belongs to a quarantined image
        {"image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5]},  # no id
        box(11, 2, [0, 0, 30, 30]),
    ],
)


def test_malformed_records_are_quarantined_with_reasons(tmp_path: Path) -> None:
    items, bad = _read(write_coco(tmp_path, MALFORMED))
    assert [i.id for i in items] == ["a.jpg", "b.jpg"]
    assert [a.id for a in items[0].annotations] == ["1"]
    assert [a.id for a in items[1].annotations] == ["11"]
    reasons = {(q.level, q.locator): q.reason for q in bad}
    assert reasons == {
        ("item", "images[2]"): "image 3 has no 'file_name'",
        ("item", "images[3]"): "duplicate image id 2 (first seen earlier in images): ids must be unique",
        ("item", "images[4]"): "duplicate file_name 'a.jpg' (also image id 1)",
        (
            "item",
            "images[5]",
        ): "unsafe file_name: path '../../etc/passwd' climbs out of the dataset with '..'",
        (
            "item",
            "images[6]",
        ): "image 6 has no valid width/height and its file cannot be read to measure them",
        ("item", "images[7]"): "image record is not a JSON object",
        (
            "annotation",
            "annotations[1]",
        ): "annotation 2: bbox must be 4 finite numbers [x, y, width, height], got [10, 10, 20]",
        (
            "annotation",
            "annotations[2]",
        ): 'annotation 3: bbox must be 4 finite numbers [x, y, width, height], got [10, "x", 20, 20]',
        (
            "annotation",
            "annotations[3]",
        ): "annotation 4: bbox must be 4 finite numbers [x, y, width, height], got [10, 10, 20, true]",
        ("annotation", "annotations[4]"): "annotation 5 points to unknown image_id 99",
        ("annotation", "annotations[5]"): "duplicate annotation id 1: ids must be unique",
        ("annotation", "annotations[6]"): "annotation 7 is missing 'category_id'",
        ("annotation", "annotations[7]"): "annotation 8 has unknown category_id 42",
        ("annotation", "annotations[8]"): "annotation 9 belongs to quarantined image 5",
        ("annotation", "annotations[9]"): "annotation has no usable 'id'",
    }
    assert items[0].quarantined_annotations == 3 and items[1].quarantined_annotations == 4


def test_run_counts_balance_and_quarantine_is_stored(tmp_path: Path, db: Path) -> None:
    rules = write_rulebook(tmp_path, MINIMAL_RULEBOOK)
    run = labelgate.score(write_coco(tmp_path / "d", MALFORMED), rulebook=rules, db=db)
    info = run.info()
    assert info["status"] == "finished"
    assert info["items_in"] == 8 == info["items_scored"] + info["items_quarantined"]
    assert info["items_scored"] == 2
    assert info["annotations_in"] == 11 == info["annotations_scored"] + info["annotations_quarantined"]
    assert info["annotations_quarantined"] == 9
    assert len(run.quarantine()) == 15


def test_missing_size_is_read_from_the_image_file(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "images").mkdir()
    Image.new("RGB", (320, 200)).save(tmp_path / "images" / "p.png")
    data = coco([{"id": 1, "file_name": "p.png"}], [box(1, 1, [1, 1, 5, 5])])
    items, bad = _read(write_coco(tmp_path, data))
    assert bad == [] and (items[0].width, items[0].height) == (320, 200)


def test_broken_json_is_a_dataset_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"images": [{"id": 1, "file_name": "a.jpg"', encoding="utf-8")
    with pytest.raises(
        DatasetError, match=r"broken\.json: invalid JSON at line 1, column 43 \(Expecting .,. delimiter\)"
    ):
        list(open_dataset(path, "coco").records())


def test_auto_detects_coco(tmp_path: Path) -> None:
    path = write_coco(tmp_path, coco([image(1)], []))
    assert open_dataset(path).format == "coco"
    assert open_dataset(tmp_path).format == "coco"


def _image_file(dataset: Path, item: Item) -> dict[str, object]:
    """The image-file fields of ``item``, measured against the reader's dataset root."""
    from rulebook.model import Taxonomy
    from scorers.measure import MeasureContext
    from scorers.measure.files import ImageFile

    row: dict[str, object] = {}
    measurement = ImageFile(open_dataset(dataset, "coco").root.root, decode_files=False)
    measurement.measure(item, row, [], MeasureContext(Taxonomy(labels=["car"])))
    return row


@pytest.mark.parametrize(
    ("json_name", "image_dir"),
    [
        ("instances_val2017.json", "val2017"),
        ("instances_train2017.json", "images/train2017"),
        ("instances_default.json", "images"),  # CVAT's COCO 1.0 export
    ],
)
def test_json_in_annotations_finds_images_beside_the_folder(tmp_path: Path, json_name: str, image_dir: str) -> None:
    from tests.formats import png

    png(tmp_path / image_dir / "a.png", 20, 10)
    data = coco([image(1, "a.png", 20, 10), image(2, "gone.png", 20, 10)], [box(1, 1, [1, 1, 5, 5])])
    path = write_coco(tmp_path / "annotations", data, json_name)
    for passed in (path, tmp_path, tmp_path / "annotations"):
        assert open_dataset(passed, "coco").root.root == tmp_path.resolve()
        items, bad = _read(passed)
        assert bad == [] and [i.id for i in items] == ["a.png", "gone.png"]
        found, missing = (_image_file(passed, i) for i in items)
        assert found["image.exists"] is True and found["image.size_matches"] is True
        assert missing["image.exists"] is False
        expected = "gone.png" if image_dir == "images" else f"{image_dir}/gone.png"
        assert missing["image.problem"] == (
            f"image file {expected} not found in the dataset folder {tmp_path.resolve()} "
            f"(looked for {expected} and images/{expected})"
        )


def test_captions_file_is_refused_and_skipped_in_a_folder(tmp_path: Path) -> None:
    captions = {"images": [image(1, "a.jpg")], "annotations": [{"id": 7, "image_id": 1, "caption": "A dog."}]}
    path = write_coco(tmp_path / "annotations", captions, "captions_val2017.json")
    with pytest.raises(
        DatasetError,
        match=r"captions_val2017\.json: not a detection file: annotations\[0\] has no bbox or category_id "
        r"\(it has caption, id, image_id\): pass an instances_\*\.json",
    ):
        _read(path)
    write_coco(tmp_path / "annotations", coco([image(1, "a.jpg")], [box(1, 1, [1, 1, 5, 5])]), "instances_val2017.json")
    assert open_dataset(tmp_path).format == "coco"  # the captions file beside it is not a second candidate
    assert [i.id for i in _read(tmp_path)[0]] == ["a.jpg"]


def test_empty_images_list_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"annotations\.json: the 'images' list is empty"):
        _read(write_coco(tmp_path, coco([], [box(1, 1, [1, 1, 5, 5])])))


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "instances.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(coco([image(1, "a.jpg")], [box(1, 1, [1, 1, 5, 5])])).encode())
    assert open_dataset(path).format == "coco" and open_dataset(tmp_path).format == "coco"
    items, bad = _read(path)
    assert bad == [] and [len(i.annotations) for i in items] == [1]


def test_bow_tie_polygon_is_reported_as_crossing_itself(tmp_path: Path) -> None:
    from rulebook.model import Taxonomy
    from scorers.measure import MeasureContext
    from scorers.measure.segmentation import Segmentation

    bow_tie = box(1, 1, [10, 10, 20, 20], segmentation=[[10, 10, 30, 30, 30, 10, 10, 30]])
    [item], _ = _read(write_coco(tmp_path, coco([image(1, "a.jpg")], [bow_tie])))
    rows: list[dict[str, object]] = [{}]
    Segmentation().measure(item, {}, rows, MeasureContext(Taxonomy(labels=["car"])))
    assert rows[0]["segmentation.problem"] == "polygon 0 crosses itself"
    assert rows[0]["segmentation.self_intersects"] is True


def test_nan_written_by_python_is_located(tmp_path: Path) -> None:
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(coco([image(1, "a.jpg")], [box(1, 1, [1, float("nan"), 5, 5])]), indent=1))
    with pytest.raises(DatasetError, match=r"nan\.json: invalid JSON at line 17, column 5 \(NaN is not a JSON number"):
        _read(path)


def test_malformed_first_annotation_is_quarantined_not_fatal(tmp_path: Path) -> None:
    boxes = [{"id": 9, "image_id": 1}, box(1, 1, [1, 1, 10, 10]), box(2, 2, [1, 1, 10, 10])]
    items, bad = _read(write_coco(tmp_path, coco([image(1, "a.jpg"), image(2, "b.jpg")], boxes)))
    assert [(q.locator, q.reason) for q in bad] == [("annotations[0]", "annotation 9 is missing 'category_id', 'bbox'")]
    assert [[a.id for a in i.annotations] for i in items] == [["1"], ["2"]]


def test_panoptic_file_is_refused(tmp_path: Path) -> None:
    segments = {"image_id": 1, "file_name": "a.png", "segments_info": [{"id": 3, "category_id": 1}]}
    path = write_coco(tmp_path, coco([image(1, "a.jpg")], [segments]), "panoptic_val2017.json")
    with pytest.raises(DatasetError, match=r"not a detection file: annotations\[0\] has no bbox or category_id"):
        _read(path)


def test_split_folder_images_are_found_with_one_lstat_and_stay_confined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full resolve per image cost +50% ingest time; confinement must stay exact without it."""
    from tests.formats import png

    root, outside = tmp_path / "d", tmp_path / "outside"
    for name in ("a.png", "b.png"):
        png(root / "val2017" / name, 20, 10)
    png(outside / "secret.png", 20, 10)
    (root / "val2017" / "alias.png").symlink_to(root / "val2017" / "a.png")
    (root / "val2017" / "leak.png").symlink_to(outside / "secret.png")
    (root / "val2017" / "out").symlink_to(outside)
    names = ["a.png", "b.png", "alias.png", "leak.png", "out/secret.png", "gone.png"]
    data = coco([image(i, n, 20, 10) for i, n in enumerate(names)], [])
    path = write_coco(root / "annotations", data, "instances_val2017.json")
    items, bad = _read(path)
    assert [(i.id, i.media) for i in items] == [
        ("a.png", "val2017/a.png"),
        ("b.png", "val2017/b.png"),
        ("alias.png", "val2017/alias.png"),
        ("gone.png", "val2017/gone.png"),
    ]
    leaks = "unsafe file_name: path 'val2017/{}' leads outside the dataset root (symlink?)"
    assert [q.reason for q in bad] == [leaks.format("leak.png"), leaks.format("out/secret.png")]

    resolved = 0
    real_resolve = Path.resolve

    def counting(self: Path, strict: bool = False) -> Path:
        nonlocal resolved
        resolved += 1
        return real_resolve(self, strict)

    many = coco([image(i, f"{i}.png", 20, 10) for i in range(40)], [])
    for i in range(40):
        (root / "val2017" / f"{i}.png").write_bytes(b"")
    reader = open_dataset(write_coco(root / "annotations", many, "instances_val2017.json"), "coco")
    monkeypatch.setattr(Path, "resolve", counting)
    assert sum(isinstance(r, Item) for r in reader.records()) == 40
    assert resolved < 5  # not one per image
