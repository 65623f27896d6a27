"""Navigation and shared state of the review screen.

The URL is the navigation state, so every screen has a deep link: ``?run=R&item=I`` opens an
item, ``?view=dashboard&run=R`` a run's dashboard, no parameters the queue. Queue filters live
in the session (sidebar widgets) and also steer next/previous on the item view.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.review_render import md_escape
from engine.review_queue import BANDS, SEVERITIES, SORTS, STATUSES, QueueFilters, QueueOptions

FLASH = "flash"
VIEWS = ("queue", "item", "dashboard")


def view() -> str:
    params = st.query_params
    wanted = params.get("view")
    if wanted in VIEWS:
        return str(wanted)
    return "item" if params.get("run") and params.get("item") else "queue"


def selected_item() -> tuple[str, str] | None:
    run, item = st.query_params.get("run"), st.query_params.get("item")
    return (str(run), str(item)) if run and item else None


def open_item(run_id: str, item_id: str) -> None:
    st.query_params.clear()
    st.query_params.update({"view": "item", "run": run_id, "item": item_id})


def open_queue() -> None:
    st.query_params.clear()


def open_dashboard(run_id: str | None = None) -> None:
    st.query_params.clear()
    st.query_params.update({"view": "dashboard", **({"run": run_id} if run_id else {})})


def flash(kind: str, text: str) -> None:
    """A message shown once, on the next render (callbacks run before the page is drawn)."""
    st.session_state[FLASH] = (kind, text)


def show_flash() -> None:
    message = st.session_state.pop(FLASH, None)
    if not message:
        return
    kind, text = message
    {"success": st.success, "error": st.error, "warning": st.warning}.get(kind, st.info)(md_escape(text))


# --- filters -----------------------------------------------------------------------------------

FILTER_KEYS = ("f_runs", "f_reasons", "f_rules", "f_severities", "f_classes", "f_bands", "f_tiers")


def filters() -> QueueFilters:
    """The filters as the sidebar widgets last left them."""
    state = st.session_state

    def chosen(key: str) -> tuple[str, ...]:
        return tuple(str(v) for v in state.get(key) or ())

    return QueueFilters(
        runs=chosen("f_runs"),
        reasons=chosen("f_reasons"),
        rules=chosen("f_rules"),
        severities=chosen("f_severities"),
        classes=chosen("f_classes"),
        bands=chosen("f_bands"),
        tiers=chosen("f_tiers"),
        status=str(state.get("f_status") or STATUSES[0]),
        sort=str(state.get("f_sort") or next(iter(SORTS))),
        search=str(state.get("f_search") or ""),
    )


def _keep_known(key: str, options: list[str]) -> None:
    """Drop selected values that are no longer options (e.g. the last item of a reason was decided)."""
    current = st.session_state.get(key)
    if current:
        st.session_state[key] = [v for v in current if v in options]


def _clear_filters() -> None:
    for key in FILTER_KEYS:
        st.session_state[key] = []
    st.session_state["f_search"] = ""


def filter_panel(options: QueueOptions) -> None:
    """Sidebar filters; changing one reruns the page with the new queue."""
    side = st.sidebar
    side.subheader("Queue filters")
    run_labels = {
        str(r.run_id): f"{r.run_id} · {r.rulebook_name}@{r.rulebook_version} ({r.in_review})"
        for r in options.runs.itertuples()
    }
    choices: list[tuple[str, str, list[str], Any]] = [
        ("f_runs", "Run", list(run_labels), lambda v: run_labels.get(v, v)),
        ("f_reasons", "Reason", list(options.reasons), lambda v: f"{v}: {options.reasons.get(v, '')}"),
        ("f_rules", "Rule", options.rules, str),
        ("f_severities", "Severity", [s for s in SEVERITIES if s in options.severities] or options.severities, str),
        ("f_classes", "Class", options.classes, str),
        ("f_bands", "Confidence", [b for b in BANDS if b in options.bands], str),
        ("f_tiers", "Model tier", options.tiers, str),
    ]
    for key, label, values, fmt in choices:
        _keep_known(key, values)
        side.multiselect(label, values, key=key, format_func=fmt, placeholder="any")
    side.text_input("Item id contains", key="f_search")
    left, right = side.columns(2)
    left.selectbox("Show", STATUSES, key="f_status")
    right.selectbox("Sort", list(SORTS), key="f_sort")
    side.button("Clear filters", key="f_clear", on_click=_clear_filters, width="stretch")
