"""File access confined to the dataset root.

Paths written inside annotation files are untrusted: ``../``, absolute paths and symlinks
that lead outside the root are refused, so a hostile dataset cannot make labelgate (or a
model prompt built from it) read ``/etc/passwd`` or a credentials file.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath


class UnsafePath(Exception):
    """A path from the dataset points outside the dataset root."""


class DatasetRoot:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def resolve(self, relative: str) -> Path:
        """The real path of ``relative`` inside the root; raises :class:`UnsafePath` otherwise."""
        if not relative or "\x00" in relative:
            raise UnsafePath(f"empty or invalid path {relative!r}")
        if (
            PurePosixPath(relative).is_absolute()
            or PureWindowsPath(relative).is_absolute()
            or (PureWindowsPath(relative).drive)
        ):
            raise UnsafePath(f"absolute path {relative!r} is not allowed: paths must be relative to the dataset")
        parts = PurePosixPath(relative.replace("\\", "/")).parts
        if ".." in parts:
            raise UnsafePath(f"path {relative!r} climbs out of the dataset with '..'")
        candidate = (self.root / Path(*parts)).resolve()
        if not candidate.is_relative_to(self.root):
            raise UnsafePath(f"path {relative!r} leads outside the dataset root (symlink?)")
        return candidate

    def find(self, relative: str, subdirs: tuple[str, ...] = ("", "images")) -> Path | None:
        """First existing file for ``relative`` under the root or its usual image folders."""
        for sub in subdirs:
            path = self.resolve(f"{sub}/{relative}" if sub else relative)
            if path.is_file():
                return path
        return None

    def relative(self, path: Path) -> str:
        return os.path.relpath(path, self.root)
