"""Data for the review screen: engine calls cached per database state.

No DuckDB connection outlives a call (a batch run may need the file's write lock between our
reruns): every loader opens a short-lived connection through the engine. Results are cached
with ``st.cache_data`` keyed on the database files' modification times, so a rerun that
only moves between items costs no query, and any write (ours or a batch run's) is seen at once.
"""

from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

import pandas as pd
import streamlit as st

from engine.review import ItemDetail, load_item
from engine.review_queue import (
    Dashboard,
    QueueFilters,
    QueueOptions,
    QueueView,
    load_dashboard,
    load_queue,
    run_choices,
)
from engine.reviewers import ReviewerDirectory, load_directory
from labelgate.settings import DB

PAGE_SIZE = 100


def db_path() -> Path:
    return Path(DB.get())


def stamp(path: Path) -> tuple[int, int]:
    """Changes whenever the database (or its write-ahead log) is written."""
    values = []
    for candidate in (path, path.with_name(path.name + ".wal")):
        try:
            values.append(candidate.stat().st_mtime_ns)
        except OSError:
            values.append(0)
    return values[0], values[1]


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def _queue(db: str, version: tuple[int, int], filters: tuple[object, ...], page: int) -> tuple[QueueOptions, QueueView]:
    return load_queue(db, QueueFilters(*filters), page=page, page_size=PAGE_SIZE)  # type: ignore[arg-type]


def queue(filters: QueueFilters, page: int) -> tuple[QueueOptions, QueueView]:
    path = db_path()
    return _queue(str(path), stamp(path), astuple(filters), page)


@st.cache_data(ttl=60, max_entries=256, show_spinner=False)
def _item(db: str, version: tuple[int, int], run_id: str, item_id: str) -> ItemDetail:
    return load_item(db, run_id, item_id)


def item(run_id: str, item_id: str) -> ItemDetail:
    path = db_path()
    return _item(str(path), stamp(path), run_id, item_id)


@st.cache_data(ttl=60, max_entries=32, show_spinner=False)
def _dashboard(db: str, version: tuple[int, int], run_id: str) -> Dashboard:
    return load_dashboard(db, run_id)


def dashboard(run_id: str) -> Dashboard:
    path = db_path()
    return _dashboard(str(path), stamp(path), run_id)


@st.cache_data(ttl=60, max_entries=16, show_spinner=False)
def _runs(db: str, version: tuple[int, int]) -> pd.DataFrame:
    return run_choices(db)


def runs() -> pd.DataFrame:
    path = db_path()
    return _runs(str(path), stamp(path))


def directory() -> ReviewerDirectory | None:
    """The reviewers file (re-read on each rerun: it is small, and edits apply at once)."""
    return load_directory()


def clear() -> None:
    """Forget cached results (after this session wrote)."""
    for loader in (_queue, _item, _dashboard, _runs):
        loader.clear()
