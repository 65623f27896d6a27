"""The queue: items waiting for a person, across runs, with counts per reason."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app import review_nav as nav
from engine.review_queue import QueueOptions, QueueView

PAGE = "q_page"


def _set_page(page: int) -> None:
    st.session_state[PAGE] = page


def _open_selected() -> None:
    choice = st.session_state.get("q_open")
    if choice:
        run_id, item_id = str(choice).split("\x1f", 1)
        nav.open_item(run_id, item_id)


def _on_row_selected() -> None:
    """A click on a row's checkbox or on any of its cells opens the item."""
    event = st.session_state.get("q_table")
    selection = event.get("selection", {}) if isinstance(event, dict) else {}
    rows = list(selection.get("rows", [])) + [cell[0] for cell in selection.get("cells", []) if cell]
    keys = st.session_state.get("q_page_keys") or []
    if rows and 0 <= int(rows[0]) < len(keys):
        nav.open_item(*keys[int(rows[0])])


def render(options: QueueOptions, view: QueueView) -> None:
    st.title("Review queue")
    nav.show_flash()
    if options.total == 0:
        st.info("Nothing waits for review: no item of any run in this database was escalated.")
        return
    metrics = st.columns([1, 1, 1, 1, 2])
    metrics[0].metric("In review (all runs)", f"{view.total:,}")
    metrics[1].metric("Match the filters", f"{view.matching:,}")
    metrics[2].metric("To review", f"{view.pending:,}")
    metrics[3].metric("Decided", f"{view.decided:,}")
    with metrics[4]:
        st.markdown("**Progress**")
        share = view.decided / view.matching if view.matching else 0.0
        st.progress(share, text=f"{share:.0%} of the matching items decided")
    reasons = view.reason_counts.assign(reason=lambda f: f["check_id"].map(lambda c: options.reasons.get(c, "")))
    st.subheader("Why items are here")
    st.dataframe(
        reasons[["check_id", "reason", "items", "to_review"]],
        hide_index=True,
        width="stretch",
        column_config={
            "check_id": st.column_config.TextColumn("Check", width="small"),
            "reason": st.column_config.TextColumn("Reason", width="large"),
            "items": st.column_config.NumberColumn("Items", width="small"),
            "to_review": st.column_config.ProgressColumn(
                "To review", min_value=0, max_value=max(1, int(reasons["items"].max() or 1)), format="%d"
            ),
        },
        key="q_reasons",
    )
    _table(view)


def _table(view: QueueView) -> None:
    head = st.columns([3, 2, 1])
    head[0].subheader(f"Items ({len(view.keys):,})")
    if not view.keys:
        st.info("No item matches: loosen the filters in the sidebar (or show 'all').")
        return
    rows = view.rows
    page_keys = [(str(r), str(i)) for r, i in zip(rows["run_id"], rows["item_id"], strict=True)]
    st.session_state["q_page_keys"] = page_keys
    labels = {f"{r}\x1f{i}": f"{i}  ·  run {r}" for r, i in page_keys}
    with head[1]:
        st.selectbox(
            "Open item",
            list(labels),
            index=None,
            key="q_open",
            format_func=lambda k: labels[k],
            placeholder="type or pick an item id",
            label_visibility="collapsed",
            on_change=_open_selected,
        )
    head[2].button(
        "Start reviewing ▶",
        key="q_start",
        type="primary",
        on_click=nav.open_item,
        args=view.keys[0],
        shortcut="S",
        help="Open the first item of the queue (shortcut S)",
        width="stretch",
    )
    shown = pd.DataFrame(
        {
            "item": rows["item_id"],
            "severity": rows["severity"],
            "reasons": rows["reasons"],
            "rules": rows["rules"],
            "classes": rows["classes"],
            "confidence": rows["confidence"],
            "tiers": rows["tiers"],
            "score": rows["score"],
            "status": rows["status"],
            "decision": rows["decision"],
            "reviewer": rows["reviewer"],
            "run": rows["run_id"],
        }
    )
    config: dict[str, Any] = {
        "item": st.column_config.TextColumn("Item", width="medium"),
        "severity": st.column_config.TextColumn("Worst", width="small"),
        "reasons": st.column_config.ListColumn("Reasons"),
        "rules": st.column_config.ListColumn("Rules fired"),
        "classes": st.column_config.ListColumn("Classes"),
        "confidence": st.column_config.NumberColumn("Min conf.", format="%.2f", width="small"),
        "tiers": st.column_config.ListColumn("Tier"),
        "score": st.column_config.NumberColumn("Score", format="%.0f", width="small"),
        "status": st.column_config.TextColumn("Status", width="small"),
        "decision": st.column_config.TextColumn("Decision", width="small"),
        "reviewer": st.column_config.TextColumn("Reviewer", width="small"),
        "run": st.column_config.TextColumn("Run", width="medium"),
    }
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(shown), 640),
        column_config=config,
        on_select=_on_row_selected,
        selection_mode=["single-row", "single-cell"],
        key="q_table",
    )
    if view.pages > 1:
        pager = st.columns([1, 2, 1])
        pager[0].button(
            "‹ Previous page", key="q_prev_page", disabled=view.page <= 1, on_click=_set_page, args=(view.page - 1,)
        )
        pager[1].caption(f"Page {view.page} of {view.pages} · {view.page_size} items a page")
        pager[2].button(
            "Next page ›",
            key="q_next_page",
            disabled=view.page >= view.pages,
            on_click=_set_page,
            args=(view.page + 1,),
        )
    st.caption(
        "Click a row (or pick an item above) to open it. Keys: S starts at the first item; J/K move on the item page."
    )
