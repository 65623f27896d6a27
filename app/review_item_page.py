"""The item view: the picture (or text) with the flagged annotation highlighted, why it is here,
the model's judgments, the trace, and the decision form."""

from __future__ import annotations

import json
from typing import Any, Literal

import pandas as pd
import streamlit as st

from app import review_data
from app import review_item_parts as parts
from app import review_nav as nav
from app import review_render as render
from app.review_identity import current as current_reviewer
from engine.review import ItemDetail, record_decision
from engine.review_queue import QueueView
from labelgate.errors import LabelgateError, StaleReviewError

SHOWN = "shown_hash"


# title, decision, widget key, keyboard shortcut, button style
DECISION_BUTTONS: tuple[tuple[str, str, str, str, Literal["primary", "secondary"]], ...] = (
    ("✓ Accept", "accept", "d_accept", "A", "primary"),
    ("✗ Reject", "reject", "d_reject", "X", "secondary"),
    ("✎ Fix label", "fix_label", "d_fix", "F", "secondary"),
)


def _shown() -> dict[str, str]:
    value = st.session_state.setdefault(SHOWN, {})
    return value  # type: ignore[no-any-return]


def _key(run_id: str, item_id: str) -> str:
    return f"{run_id}\x1f{item_id}"


def _wkey(name: str, detail: ItemDetail) -> str:
    """Widget keys per item, so a choice made on one item never carries over to the next."""
    return f"{name}:{detail.run_id}:{detail.item_id}"


def _neighbours(
    view: QueueView, key: tuple[str, str]
) -> tuple[int | None, tuple[str, str] | None, tuple[str, str] | None]:
    keys = view.keys
    try:
        index = keys.index(key)
    except ValueError:
        return None, (keys[-1] if keys else None), (keys[0] if keys else None)
    return (
        index,
        keys[index - 1] if index > 0 else None,
        keys[index + 1] if index + 1 < len(keys) else None,
    )


def _decide(detail: ItemDetail, decision: str, next_key: tuple[str, str] | None) -> None:
    """Form callback: record the decision against the hash the item was shown with."""
    state = st.session_state
    key = _key(detail.run_id, detail.item_id)
    expected = _shown().get(key)
    annotation = state.get(_wkey("d_annotation", detail)) if decision == "fix_label" else None
    label = state.get(_wkey("d_label", detail)) if decision == "fix_label" else None
    try:
        recorded = record_decision(
            review_data.db_path(),
            detail.run_id,
            detail.item_id,
            reviewer=current_reviewer(),
            decision=decision,
            expected_hash=expected,
            annotation_id=annotation,
            corrected_label=label,
            comment=state.get(_wkey("d_comment", detail)),
        )
    except StaleReviewError as exc:
        _shown().pop(key, None)  # show the item as it is now, and ask again
        nav.flash("error", f"Refused: {exc.message}")
        return
    except LabelgateError as exc:
        nav.flash("error", f"Refused: {exc.message}")
        return
    review_data.clear()
    state[_wkey("d_comment", detail)] = ""
    words = render.DECISION_WORDS.get(recorded.decision, recorded.decision)
    fixed = f" → {recorded.corrected_label}" if recorded.corrected_label else ""
    nav.flash("success", f"{words}{fixed}: {recorded.item_id} (by {recorded.reviewer}, audit #{recorded.audit_seq})")
    if next_key is not None and state.get("auto_next", True):
        nav.open_item(*next_key)


def render_item(view: QueueView) -> None:
    selected = nav.selected_item()
    if selected is None:
        nav.open_queue()
        st.rerun()
    assert selected is not None
    run_id, item_id = selected
    try:
        detail = review_data.item(run_id, item_id)
    except LabelgateError as exc:
        st.error(render.md_escape(exc.message))
        st.button("← Queue", on_click=nav.open_queue, key="i_back_missing")
        return
    key = _key(run_id, item_id)
    shown = _shown()
    changed_while_open = key in shown and shown[key] != detail.bound_hash
    if key not in shown:
        shown[key] = detail.bound_hash
    index, prev_key, next_key = _neighbours(view, (run_id, item_id))
    _header(detail, view, index, prev_key, next_key)
    nav.show_flash()
    if changed_while_open:
        st.warning(
            "This item changed since it was shown to you (content, judgments or rulebook): look at it again before "
            "deciding. Your next decision is bound to what you see now."
        )
        shown[key] = detail.bound_hash
    _status(detail)
    left, right = st.columns([3, 2], gap="large")
    with left:
        parts.media(detail)
        parts.tabs(detail)
    with right:
        parts.why(detail)
        _decision(detail, next_key)


def _header(
    detail: ItemDetail,
    view: QueueView,
    index: int | None,
    prev_key: tuple[str, str] | None,
    next_key: tuple[str, str] | None,
) -> None:
    bar = st.columns([1, 5, 1, 1], vertical_alignment="center")
    bar[0].button("← Queue", key="i_back", on_click=nav.open_queue, width="stretch")
    position = f"{index + 1:,} of {len(view.keys):,} in the queue" if index is not None else "not in the filtered queue"
    run = detail.run
    decided = "" if detail.current is not None else " · :orange[no human decision yet]"
    bar[1].markdown(
        f"### {render.md_escape(detail.item_id)}\n"
        f"{_model_words(detail)}{decided} · :gray[run {detail.run_id} · "
        f"{render.md_escape(str(run.get('rulebook_name')))}@{render.md_escape(str(run.get('rulebook_version')))} · "
        f"{position}]"
    )
    bar[2].button(
        "◀ Previous",
        key="i_prev",
        disabled=prev_key is None,
        on_click=nav.open_item,
        args=prev_key or ("", ""),
        shortcut="K",
        help="Previous item in the queue (K)",
        width="stretch",
    )
    bar[3].button(
        "Next ▶",
        key="i_next",
        disabled=next_key is None,
        on_click=nav.open_item,
        args=next_key or ("", ""),
        shortcut="J",
        help="Next item in the queue (J)",
        width="stretch",
    )


def _model_words(detail: ItemDetail) -> str:
    if detail.score is None:
        return "Model: no score"
    verdict = "pass" if detail.passed else "fail"
    return f"Model: **{detail.model_decision}** (score {detail.score:.0f}, would {verdict})"


def _status(detail: ItemDetail) -> None:
    current = detail.current
    if current is None:
        return
    model = _model_words(detail)
    words = render.DECISION_WORDS.get(str(current["decision"]), str(current["decision"]))
    fixed = ""
    if current.get("corrected_label"):
        label, target = (
            render.md_escape(str(current["corrected_label"])),
            render.md_escape(str(current["annotation_id"])),
        )
        fixed = f" → **{label}** on #{target}"
    who = f"by {render.md_escape(str(current['reviewer']))} at {pd.Timestamp(current['decided_at']):%Y-%m-%d %H:%M} UTC"
    if detail.current_is_bound:
        st.success(f"{model} · Human: **{words}**{fixed} {who}", icon=":material/task_alt:")
    else:
        st.warning(
            f"{model} · Human: {words}{fixed} {who}, but the item changed since (content, judgments or rulebook): "
            "decide again.",
            icon=":material/warning:",
        )


def _annotation_label(detail: ItemDetail, annotation_id: str) -> str:
    row = detail.annotations[detail.annotations["annotation_id"] == annotation_id]
    label = str(row["label"].iloc[0]) if len(row) else "?"
    mark = " (flagged)" if annotation_id in detail.flagged else ""
    return f"#{annotation_id} {label}{mark}"


def _suggested_label(detail: ItemDetail, annotation_id: str | None) -> str | None:
    """The model's visible class for the annotation, when its judgment has one."""
    if annotation_id is None or not len(detail.judgments):
        return None
    rows = detail.judgments[detail.judgments["annotation_id"] == annotation_id]
    for values in rows["values"]:
        try:
            parsed: Any = json.loads(values) if isinstance(values, str) else None
        except ValueError:
            continue
        if isinstance(parsed, dict):
            for field in ("visible_class", "entity_type", "label", "class"):
                if isinstance(parsed.get(field), str):
                    return str(parsed[field])
    return None


def _decision(detail: ItemDetail, next_key: tuple[str, str] | None) -> None:
    st.markdown("##### Decision")
    reviewer = current_reviewer()
    if reviewer is not None and not reviewer.can_decide:
        st.info(f"You are signed in as {render.md_escape(reviewer.name)}, a viewer: you can look but not decide.")
        return
    if reviewer is None:
        st.warning("Enter your name (or sign in) in the sidebar before deciding: decisions are signed.")
    ids = [str(a) for a in detail.annotations["annotation_id"]]
    ordered = [a for a in detail.flagged if a in ids] + [a for a in ids if a not in detail.flagged]
    with st.form("decision", border=True, clear_on_submit=False):
        noun = parts.noun_of(detail)
        cols = st.columns(2)
        chosen = cols[0].selectbox(
            f"{noun.capitalize()} to correct (fix label)",
            ordered,
            format_func=lambda a: _annotation_label(detail, a),
            key=_wkey("d_annotation", detail),
            index=0 if ordered else None,
        )
        choices = detail.label_choices
        suggestion = _suggested_label(detail, chosen)
        cols[1].selectbox(
            "Corrected label",
            choices,
            index=choices.index(suggestion) if suggestion in choices else None,
            key=_wkey("d_label", detail),
            placeholder="choose a label",
        )
        st.text_area(
            "Comment",
            key=_wkey("d_comment", detail),
            height=80,
            placeholder="optional: what you saw, for the audit log",
        )
        for column, (title, decision, key, shortcut, kind) in zip(st.columns(3), DECISION_BUTTONS, strict=True):
            column.form_submit_button(
                title,
                key=key,
                type=kind,
                on_click=_decide,
                args=(detail, decision, next_key),
                shortcut=shortcut,
                width="stretch",
            )
    st.toggle("Go to the next item after deciding", value=True, key="auto_next")
    st.caption(
        f"Keys: A accept · X reject · F fix label · J next · K previous. "
        f"Bound to hash {render.short_hash(_shown().get(_key(detail.run_id, detail.item_id)))}…"
    )
