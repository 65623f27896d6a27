"""Dataset root confinement: every way a path from an annotation file could leave the root
is refused with its reason; files inside are found; a missing file is ``None``, not an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.paths import DatasetRoot, UnsafePath


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty or invalid"),
        ("a\x00b.png", "empty or invalid"),
        ("/etc/passwd", "absolute path"),
        ("C:\\Windows\\win.ini", "absolute path"),
        ("c:win.ini", "absolute path"),
        ("\\\\server\\share\\x.png", "absolute path"),
        ("../secret.png", "climbs out"),
        ("images/../../secret.png", "climbs out"),
        ("images\\..\\..\\secret.png", "climbs out"),
    ],
)
def test_paths_that_leave_the_root_are_refused(tmp_path: Path, name: str, reason: str) -> None:
    with pytest.raises(UnsafePath, match=reason):
        DatasetRoot(tmp_path).find(name)


def test_symlinks_are_followed_only_inside_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "data", tmp_path / "outside"
    (root / "images" / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"x")
    (root / "images" / "sub" / "a.png").write_bytes(b"x")
    (root / "leak.png").symlink_to(outside / "secret.png")
    (root / "linked").symlink_to(outside)
    (root / "dangling.png").symlink_to(outside / "gone.png")
    (root / "alias.png").symlink_to(root / "images" / "sub" / "a.png")
    data = DatasetRoot(root)
    found = root.resolve() / "images" / "sub" / "a.png"
    assert data.find("sub/a.png") == found  # looked up under images/ too
    assert data.find("./images//sub/a.png") == found
    assert data.find("images\\sub\\a.png") == found
    assert data.find("alias.png") == found
    assert data.find("missing.png") is None
    for name in ("leak.png", "linked/secret.png", "linked/missing.png", "dangling.png"):  # exists or not: refused
        with pytest.raises(UnsafePath, match="outside the dataset root"):
            data.find(name)
        with pytest.raises(UnsafePath, match="outside the dataset root"):
            data.check(name)
    data.check("images/sub/not-yet.png")  # a missing file in a safe folder is fine


def test_dataset_folder_is_the_parent_of_an_annotations_folder(tmp_path: Path) -> None:
    from ingest.paths import dataset_folder

    for folder in ("annotations", "Annotations"):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / "x.json").write_text("{}")
        assert dataset_folder(tmp_path / folder / "x.json") == tmp_path
        assert dataset_folder(tmp_path / folder) == tmp_path
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "x.json").write_text("{}")
    assert dataset_folder(tmp_path / "labels" / "x.json") == tmp_path / "labels"
    assert dataset_folder(tmp_path) == tmp_path
