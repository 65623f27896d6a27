"""Pascal VOC: corners become boxes, flags become attributes; malformed or hostile XML and
unsafe file names are quarantined with reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.formats import Img, png, write_voc
from tests.readers import read, reasons

OBJECT = (
    "<object><name>{name}</name><pose>Left</pose><truncated>1</truncated><difficult>0</difficult>"
    "<occluded>1</occluded><bndbox><xmin>{x1}</xmin><ymin>10</ymin><xmax>{x2}</xmax><ymax>50</ymax></bndbox>"
    "</object>"
)


def _xml(filename: str, objects: str, size: str = "<size><width>100</width><height>80</height></size>") -> str:
    return f"<annotation><filename>{filename}</filename><path>/home/ann/x.jpg</path>{size}{objects}</annotation>"


def test_objects_become_boxes_with_flags_as_attributes(tmp_path: Path) -> None:
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    png(root / "JPEGImages" / "a.jpg", 100, 80)
    cvat = "<attributes><attribute><name>parked</name><value>true</value></attribute></attributes>"
    (root / "Annotations" / "a.xml").write_text(
        _xml(
            "a.jpg",
            OBJECT.format(name="car", x1=5, x2=45)
            + OBJECT.format(name="dog", x1=1.5, x2=2).replace("</object>", cvat + "</object>"),
        )
    )
    items, bad = read(root)
    assert bad == []
    [item] = items
    assert (item.id, item.width, item.height, item.media) == ("JPEGImages/a.jpg", 100, 80, "JPEGImages/a.jpg")
    car, dog = item.annotations
    assert (car.id, car.label, car.bbox) == ("Annotations/a.xml:object[0]", "car", (5.0, 10.0, 40.0, 40.0))
    assert car.attributes == {"pose": "Left", "truncated": True, "difficult": False, "occluded": True}
    assert dog.bbox == (1.5, 10.0, 0.5, 40.0)
    assert dog.attributes["parked"] is True


def test_malformed_hostile_and_unsafe_files_are_quarantined(tmp_path: Path) -> None:
    root = tmp_path / "voc"
    ann = root / "Annotations"
    ann.mkdir(parents=True)
    (ann / "a_broken.xml").write_text("<annotation><filename>a.jpg</filename>\n<object><name>car</name>\n</annotation>")
    (ann / "b_bomb.xml").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>\n'
        "<annotation><filename>&lol2;</filename></annotation>"
    )
    (ann / "c_xxe.xml").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        "<annotation><filename>&xxe;</filename></annotation>"
    )
    (ann / "d_escape.xml").write_text(_xml("../../etc/passwd", OBJECT.format(name="car", x1=1, x2=5)))
    (ann / "e_other.xml").write_text("<svg><rect/></svg>")
    (ann / "f_nosize.xml").write_text(_xml("missing.jpg", OBJECT.format(name="car", x1=1, x2=5), size=""))
    (ann / "g_bad_object.xml").write_text(
        _xml(
            "g.jpg",
            "<object><bndbox><xmin>1</xmin></bndbox></object>" + OBJECT.format(name="car", x1="a", x2=5),
        )
    )
    items, bad = read(root)
    assert [(i.id, len(i.annotations), i.quarantined_annotations) for i in items] == [("g.jpg", 0, 2)]
    assert reasons(bad) == {
        ("item", "Annotations/a_broken.xml"): "invalid XML at line 3, column 3 (mismatched tag)",
        ("item", "Annotations/b_bomb.xml"): "XML with a DTD, entities or external references is refused "
        "(DTDForbidden): export the file without them",
        ("item", "Annotations/c_xxe.xml"): "XML with a DTD, entities or external references is refused "
        "(DTDForbidden): export the file without them",
        ("item", "Annotations/d_escape.xml"): "unsafe <filename>: path '../../etc/passwd' "
        "climbs out of the dataset with '..'",
        (
            "annotation",
            "Annotations/d_escape.xml:object[0]",
        ): "belongs to quarantined item Annotations/d_escape.xml",
        (
            "item",
            "Annotations/e_other.xml",
        ): "not a Pascal VOC file: root element <svg>, expected <annotation>",
        ("item", "Annotations/f_nosize.xml"): "no valid <size> and the image cannot be measured: "
        "image file missing.jpg not found",
        ("annotation", "Annotations/f_nosize.xml:object[0]"): "belongs to quarantined item missing.jpg",
        ("annotation", "Annotations/g_bad_object.xml:object[0]"): "object has no <name>",
        ("annotation", "Annotations/g_bad_object.xml:object[1]"): "object 'car': <bndbox> needs numeric "
        "xmin, ymin, xmax and ymax",
    }


def test_size_from_the_image_when_the_xml_has_none(tmp_path: Path) -> None:
    root = write_voc(tmp_path / "voc", [Img("a.png", 30, 20, [("car", 1, 1, 5, 5)])], draw=True)
    xml = root / "Annotations" / "a.xml"
    xml.write_text(xml.read_text().replace("<width>30</width>", "<width>0</width>"))
    [item], bad = read(root)
    assert bad == [] and (item.width, item.height) == (30, 20)


def test_two_files_for_one_image_keep_the_first(tmp_path: Path) -> None:
    root = write_voc(tmp_path / "voc", [Img("a.png", 30, 20, [("car", 1, 1, 5, 5)])])
    (root / "Annotations" / "z.xml").write_text((root / "Annotations" / "a.xml").read_text())
    items, bad = read(root)
    assert [i.source for i in items] == ["Annotations/a.xml"]
    assert reasons(bad) == {
        ("item", "Annotations/z.xml"): "another XML file already annotates a.png: one file per image",
        ("annotation", "Annotations/z.xml:object[0]"): "belongs to quarantined item a.png",
    }


@pytest.mark.parametrize("name", ["/etc/passwd", "C:\\\\Windows\\\\win.ini"])
def test_absolute_file_names_are_refused(tmp_path: Path, name: str) -> None:
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(_xml(name, ""))
    _, bad = read(root)
    assert len(bad) == 1 and bad[0].reason.startswith("unsafe <filename>: absolute path")


def test_file_name_without_extension_finds_the_image_by_stem(tmp_path: Path) -> None:
    root = tmp_path / "ilsvrc"
    (root / "Annotations").mkdir(parents=True)
    png(root / "JPEGImages" / "n01751748_1234.JPEG", 100, 80)
    (root / "Annotations" / "n01751748_1234.xml").write_text(_xml("n01751748_1234", ""))
    (root / "Annotations" / "n01751748_9999.xml").write_text(_xml("n01751748_9999", ""))
    items, bad = read(root)
    assert bad == []
    assert [(i.id, i.media) for i in items] == [
        ("JPEGImages/n01751748_1234.JPEG", "JPEGImages/n01751748_1234.JPEG"),
        ("JPEGImages/n01751748_9999", "JPEGImages/n01751748_9999"),  # missing: named where it was expected
    ]


def test_xml_inside_annotations_makes_the_parent_the_dataset_folder(tmp_path: Path) -> None:
    root = write_voc(tmp_path / "VOC2007", [Img("a.png", 30, 20, [("car", 1, 1, 5, 5)])], draw=True)
    for passed in (root / "Annotations" / "a.xml", root / "Annotations"):
        [item], bad = read(passed)
        assert bad == [] and (item.id, item.source) == ("JPEGImages/a.png", "Annotations/a.xml")


def test_an_annotation_file_symlinked_from_outside_is_refused_unread(tmp_path: Path) -> None:
    """Its content would reach the quarantine table (raw, reasons): nothing outside the dataset is read."""
    outside = tmp_path / "outside.xml"
    outside.write_text("<secret>token</secret>", encoding="utf-8")
    data = tmp_path / "voc"
    (data / "Annotations").mkdir(parents=True)
    (data / "JPEGImages").mkdir()
    (data / "Annotations" / "a.xml").symlink_to(outside)
    items, bad = read(data, "voc")
    assert items == []
    assert reasons(bad) == {
        ("item", "Annotations/a.xml"): "refused: path 'Annotations/a.xml' leads outside the dataset root (symlink?)"
    }
