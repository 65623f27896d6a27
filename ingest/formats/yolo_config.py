"""Ultralytics dataset YAML for the YOLO reader: class names, the dataset folder and its splits.

Passed as the dataset, the YAML names the folder (``path``, relative to the YAML's folder) and
the ``train``/``val``/``test`` image folders to read, each confined to that folder. A missing
``test`` folder is skipped, as Ultralytics does (Roboflow exports list one they did not write);
a missing ``train`` or ``val`` is refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ingest.paths import DatasetRoot, UnsafePath
from labelgate.errors import DatasetError

CONFIG_NAMES = ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml")
SPLITS = ("train", "val", "test")
OPTIONAL_SPLITS = ("test",)


def load_yaml(config: Path) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return YAML(typ="safe", pure=True).load(config.read_text(encoding="utf-8"))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise DatasetError(f"{config}: invalid YAML at {where} ({exc.problem}): fix the file") from None
    except (YAMLError, OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{config}: cannot read ({str(exc).splitlines()[0]}): fix the file") from None


def names_from_yaml(config: Path, data: Any) -> list[str]:
    """Class names from ``names``; an ``nc`` that disagrees is refused, as Ultralytics does."""
    if not isinstance(data, dict):
        data = {}
    names = data.get("names")
    if isinstance(names, dict) and all(isinstance(k, int) for k in names):
        if sorted(names) != list(range(len(names))):
            raise DatasetError(f"{config}: 'names' ids must be 0..{len(names) - 1} without gaps")
        names = [names[k] for k in range(len(names))]
    if not isinstance(names, list) or not names or not all(isinstance(n, str | int) for n in names):
        raise DatasetError(f"{config}: needs 'names': a list of class names or {{id: name}}")
    count = data.get("nc")
    if count is not None and count != len(names):
        raise DatasetError(f"{config}: nc is {count} but 'names' lists {len(names)} classes: make them agree")
    return [str(n) for n in names]


def config_root(config: Path, data: dict[Any, Any]) -> DatasetRoot:
    """The dataset folder: ``path`` relative to the YAML's folder (or absolute), else that folder."""
    where = data.get("path")
    if where in (None, ""):
        return DatasetRoot(config.parent)
    folder = config.parent / str(where)
    if not isinstance(where, str) or "://" in where or not folder.is_dir():
        raise DatasetError(
            f"{config}: 'path' {where!r} is not a folder ({folder.resolve()}): "
            "fix 'path', or pass the dataset folder instead of the YAML"
        )
    return DatasetRoot(folder)


def split_folders(config: Path, data: dict[Any, Any], root: DatasetRoot) -> list[str]:
    """The split image folders, relative to the root; an empty list reads the whole root, so a
    YAML whose only split is a missing ``test`` is refused rather than read as that."""
    folders: list[str] = []
    skipped: str | None = None
    for key in SPLITS:
        entries = data.get(key)
        for entry in entries if isinstance(entries, list) else [entries]:
            if entry in (None, ""):
                continue
            folder = _split_folder(config, key, entry, root)
            if folder is not None:
                folders.append(folder)
            elif skipped is None:
                skipped = f"{key}: {entry}"
    if skipped and not folders:
        raise DatasetError(f"{config}: {skipped}: folder not found: fix the entry, or add train and val folders")
    return folders


def _split_folder(config: Path, key: str, entry: Any, root: DatasetRoot) -> str | None:
    """A split entry as a folder relative to the root, None for a missing optional split; lists
    of files, URLs, folders outside the root and missing required splits are refused."""
    text = str(entry).strip()
    if not isinstance(entry, str) or "://" in text:
        raise DatasetError(f"{config}: {key}: {entry!r} is not a local folder: point {key} at an image folder")
    base = root.root
    if os.path.isabs(text):
        text = os.path.relpath(Path(text).resolve(), base)
    elif text.startswith("../") and not (base / text).exists():
        text = text[3:]  # Roboflow writes ../train/images for train/images beside the YAML, as Ultralytics reads it
    try:
        folder = root.resolve(text)
    except UnsafePath:
        raise DatasetError(
            f"{config}: {key}: {entry} is outside the dataset folder {base}: set 'path' to a folder holding it"
        ) from None
    if folder.is_file():
        raise DatasetError(
            f"{config}: {key}: {entry} is a file (a list of images?); labelgate reads image folders: "
            f"point {key} at a folder such as images/{key}"
        )
    if not folder.is_dir():
        if key in OPTIONAL_SPLITS:
            return None
        raise DatasetError(f"{config}: {key}: folder {folder} not found: fix the entry or remove it")
    rel = root.relative(folder).replace("\\", "/")
    return "" if rel == "." else rel
