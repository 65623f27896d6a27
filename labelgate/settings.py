"""Settings as data: every knob has a name, a default, help text and an environment override.

``labelgate settings`` (and the docs test) list them from :data:`SETTINGS`, so the
documentation cannot drift from the code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from labelgate.errors import ConfigError

T = TypeVar("T", int, float, str)


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One setting; ``get()`` reads ``LABELGATE_<NAME>`` from the environment, else the default."""

    name: str
    default: T
    help: str

    @property
    def env_var(self) -> str:
        return "LABELGATE_" + self.name.upper()

    def get(self) -> T:
        raw = os.environ.get(self.env_var)
        if raw is None or raw == "":
            return self.default
        kind = type(self.default)
        try:
            return kind(raw)
        except ValueError as exc:
            raise ConfigError(
                f"{self.env_var}={raw!r} is not a valid {kind.__name__}: unset it or fix the value"
            ) from exc


HOME = Setting("home", "", "Directory for labelgate's own files (defaults to ~/.labelgate).")
DB = Setting("db", "labelgate.duckdb", "DuckDB file used when --db is not given.")
CHUNK_ANNOTATIONS = Setting(
    "chunk_annotations",
    10000,
    "Annotations per committed chunk: the unit of durability and of rule-engine batches.",
)
MAX_IMAGE_PIXELS = Setting(
    "max_image_pixels",
    89_478_485,
    "Images with more pixels are refused (decompression-bomb guard), same default as Pillow.",
)
LOCK_TIMEOUT_S = Setting(
    "lock_timeout_s",
    30.0,
    "Seconds to keep retrying when another process holds the DuckDB file's write lock.",
)

HOLD_S = Setting(
    "hold_s",
    2.0,
    "Longest a run keeps the DuckDB file locked between commits before letting others in.",
)

REVIEWERS = Setting(
    "reviewers",
    "",
    "Reviewers file for the review screen (names, roles, shared-token hash); default <home>/reviewers.toml.",
)

SETTINGS: tuple[Setting[int] | Setting[float] | Setting[str], ...] = (
    HOME,
    DB,
    CHUNK_ANNOTATIONS,
    MAX_IMAGE_PIXELS,
    LOCK_TIMEOUT_S,
    HOLD_S,
    REVIEWERS,
)


def home_dir() -> Path:
    """labelgate's own directory; tests point ``LABELGATE_HOME`` at a tmp dir."""
    configured = HOME.get()
    return Path(configured) if configured else Path.home() / ".labelgate"
