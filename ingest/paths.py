"""File access confined to the dataset root.

Paths written inside annotation files are untrusted: ``../``, absolute paths and symlinks
that lead outside the root are refused, so a hostile dataset cannot make labelgate (or a
model prompt built from it) read ``/etc/passwd`` or a credentials file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

WINDOWS_DRIVE = re.compile(r"[A-Za-z]:")  # C:\x, C:x (drive-relative): absolute enough to refuse


def dataset_folder(path: Path) -> Path:
    """The dataset root for ``path``: the folder itself, or the folder holding the file; one level
    up when that folder is named ``annotations`` (any case). COCO keeps
    ``annotations/instances_val2017.json`` beside ``val2017/`` and VOC ``Annotations/`` beside
    ``JPEGImages/``: pointing inside the annotations folder names its parent as the dataset.
    """
    folder = path.absolute() if path.is_dir() else path.absolute().parent
    return folder.parent if folder.name.lower() == "annotations" else folder


class UnsafePath(Exception):
    """A path from the dataset points outside the dataset root."""


class DatasetRoot:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._root_text = str(self.root)
        self._safe_folders: set[str] = {self._root_text}

    def resolve(self, relative: str) -> Path:
        """The real path of ``relative`` inside the root; raises :class:`UnsafePath` otherwise."""
        return self._inside(self._joined(relative), relative)

    def _joined(self, relative: str) -> str:
        """``relative`` under the root, textually: refuses empty, absolute and ``..`` paths.

        Plain string work (no pathlib): it runs for every image of every dataset.
        """
        if not relative or "\x00" in relative:
            raise UnsafePath(f"empty or invalid path {relative!r}")
        posix = relative.replace("\\", "/")
        if posix.startswith("/") or WINDOWS_DRIVE.match(posix):
            raise UnsafePath(f"absolute path {relative!r} is not allowed: paths must be relative to the dataset")
        parts = [part for part in posix.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise UnsafePath(f"path {relative!r} climbs out of the dataset with '..'")
        return os.path.join(self._root_text, *parts)

    def _inside(self, joined: str, relative: str) -> Path:
        """The real path of ``joined``, refused when a symlink leads it outside the root."""
        candidate = Path(joined).resolve()
        if not candidate.is_relative_to(self.root):
            raise UnsafePath(f"path {relative!r} leads outside the dataset root (symlink?)")
        return candidate

    def check(self, relative: str) -> None:
        """Raise :class:`UnsafePath` unless ``relative`` stays inside the root; cheap for missing files."""
        self._existing(relative)

    def find(self, relative: str, subdirs: tuple[str, ...] = ("", "images")) -> Path | None:
        """First existing file for ``relative`` under the root or its usual image folders."""
        for sub in subdirs:
            path = self._existing(f"{sub}/{relative}" if sub else relative)
            if path is not None and path.is_file():
                return path
        return None

    def _existing(self, name: str) -> Path | None:
        """The real path of ``name`` if something is there, else None; refuses escapes either way.

        One ``lstat`` decides; a missing name's folder is still checked (once per folder), so a
        symlinked folder leading outside is refused whether or not the file exists in it.
        """
        joined = self._joined(name)
        if os.path.lexists(joined):
            return self._inside(joined, name)
        folder = os.path.dirname(joined)
        if folder not in self._safe_folders:
            self._inside(folder, name)
            self._safe_folders.add(folder)
        return None

    def relative(self, path: Path) -> str:
        return os.path.relpath(path, self.root)
