"""The installed labelgate version (single source: the package metadata)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("labelgate")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+source"
