"""Paths of the example rulebooks shipped with labelgate (``examples/`` in the source tree)."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from labelgate.errors import ConfigError


def example_path(name: str) -> Path:
    """The file ``name`` from the examples folder, wherever labelgate is installed."""
    resource = files("labelgate.examples").joinpath(name)
    if not resource.is_file():
        raise ConfigError(f"example {name!r} is not installed: reinstall labelgate")
    with as_file(resource) as path:
        return Path(path)
