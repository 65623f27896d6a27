from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real ~/.labelgate or a labelgate.duckdb in the working directory."""
    monkeypatch.setenv("LABELGATE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABELGATE_DB", str(tmp_path / "default.duckdb"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "runs.duckdb"
