"""The read-only parts of the item view: the picture or text, why it is here, and the tabs."""

from __future__ import annotations

import html
import json

import streamlit as st

from app import review_render as render
from engine.review import ItemDetail
from engine.review_media import Box, class_colors, draw_boxes, load_image


def boxes(detail: ItemDetail) -> list[Box]:
    boxes = []
    for row in detail.annotations.to_dict("records"):
        x, y, w, h = (render.number(row[k]) for k in ("x", "y", "w", "h"))
        if x is not None and y is not None and w is not None and h is not None:
            boxes.append(Box(str(row["annotation_id"]), str(row["label"]), x, y, w, h))
    return boxes


def span_list(detail: ItemDetail) -> list[render.Span]:
    spans = []
    for row in detail.annotations.to_dict("records"):
        start, end = render.number(row["span_start"]), render.number(row["span_end"])
        if start is not None and end is not None:
            spans.append(render.Span(str(row["annotation_id"]), int(start), int(end), str(row["label"])))
    return spans


def media(detail: ItemDetail) -> None:
    labels = [str(v) for v in detail.annotations["label"]]
    colors = class_colors(sorted(set(labels)), detail.taxonomy)
    if detail.kind == "image":
        run = detail.run
        loaded = load_image(
            str(run.get("dataset_path") or ""),
            detail.media,
            dataset_format=run.get("dataset_format"),
            width=detail.width,
            height=detail.height,
        )
        if loaded.image is None:
            st.markdown(
                '<div style="height:320px;display:flex;align-items:center;justify-content:center;'
                "border:2px dashed #bbb;border-radius:8px;color:#666;background:#f6f6f6;text-align:center;"
                f'padding:16px;">Image not available<br/>{html.escape(loaded.problem or "")}</div>',
                unsafe_allow_html=True,
            )
        else:
            drawn = draw_boxes(loaded.image, boxes(detail), colors, detail.flagged)
            st.image(
                drawn, width="stretch", caption=f"{detail.media} · {detail.width}×{detail.height}", output_format="JPEG"
            )
    elif detail.text is not None:
        spans = span_list(detail)
        if spans:
            st.markdown(render.spans_html(detail.text, spans, colors, detail.flagged), unsafe_allow_html=True)
        else:
            st.markdown(render.text_html(detail.text), unsafe_allow_html=True)
    present = sorted(
        set(labels),
        key=lambda v: (v not in detail.taxonomy, detail.taxonomy.index(v) if v in detail.taxonomy else 0, v),
    )
    flagged_labels = {str(r.label) for r in detail.annotations.itertuples() if str(r.annotation_id) in detail.flagged}
    st.markdown(
        render.chips(((label, colors[label]) for label in present), flagged=flagged_labels), unsafe_allow_html=True
    )
    if detail.flagged:
        st.caption(
            "Red outline: flagged "
            + ", ".join(f"#{a}" for a in detail.flagged)
            + ". Others thin, in their class colour."
        )


def noun_of(detail: ItemDetail) -> str:
    """What an annotation of this item is called: box, span or label."""
    if detail.kind == "image":
        return "box"
    return "span" if detail.annotations["span_start"].notna().any() else "label"


def why(detail: ItemDetail) -> None:
    reasons = [
        (str(r.check_id), str(r.reason), r.annotation_id if isinstance(r.annotation_id, str) else None)
        for r in detail.escalations.itertuples()
    ]
    noun = noun_of(detail)
    st.markdown(render.reasons_box(reasons, noun), unsafe_allow_html=True)
    st.markdown(f"##### Rules fired ({len(detail.findings)})")
    if not len(detail.findings):
        st.caption("No rule fired on this item.")
    cards = "".join(
        render.rule_card(
            str(f.rule_id),
            str(f.severity),
            str(f.clause),
            str(f.message),
            f.annotation_id if isinstance(f.annotation_id, str) else None,
            noun,
        )
        for f in detail.findings.itertuples()
    )
    if cards:
        st.markdown(cards, unsafe_allow_html=True)
    judged = detail.judgments
    flagged = judged[judged["annotation_id"].isin(detail.flagged)] if len(judged) else judged
    if len(flagged):
        st.markdown("##### Model judgment")
        lines = [
            render.judgment_line(
                str(j.annotation_id),
                render.number(j.confidence),
                str(j.tier),
                str(j.model),
                j.values,
            )
            for j in flagged.itertuples()
        ]
        st.markdown("".join(lines), unsafe_allow_html=True)


def tabs(detail: ItemDetail) -> None:
    judgments, annotations, trace, history = st.tabs(
        [
            f"Judgments ({len(detail.judgments)})",
            f"Annotations ({len(detail.annotations)})",
            "Trace",
            f"History ({len(detail.history)})",
        ]
    )
    with judgments:
        if len(detail.judgments):
            frame = detail.judgments.assign(values=detail.judgments["values"].map(render.values_text))
            st.dataframe(
                frame[["annotation_id", "confidence", "values", "tier", "model", "strategy", "status", "reason"]],
                hide_index=True,
                width="stretch",
                column_config={
                    "confidence": st.column_config.ProgressColumn("confidence", min_value=0, max_value=1, format="%.2f")
                },
            )
        else:
            st.caption("No model judged this item.")
    with annotations:
        st.dataframe(detail.annotations.drop(columns=["seq"]), hide_index=True, width="stretch")
    with trace:
        trace_tab(detail)
    with history:
        history_tab(detail)


def trace_tab(detail: ItemDetail) -> None:
    attempts = detail.attempts
    cols = st.columns(4)
    cols[0].metric("Model calls", f"{len(attempts):,}")
    cols[1].metric("Cost", f"${detail.cost_usd:.4f}")
    tokens = (
        int(attempts["input_tokens"].fillna(0).sum() + attempts["output_tokens"].fillna(0).sum())
        if len(attempts)
        else 0
    )
    cols[2].metric("Tokens", f"{tokens:,}")
    cols[3].metric("Models", ", ".join(sorted(set(attempts["model"].astype(str)))) if len(attempts) else "none")
    if detail.route is not None:
        route = detail.route
        reasons = json.loads(route["reasons"]) if isinstance(route.get("reasons"), str) else route.get("reasons")
        st.markdown(f"**Route:** tier `{route['tier']}` · " + "; ".join(str(r) for r in reasons or []))
    if len(attempts):
        st.dataframe(attempts, hide_index=True, width="stretch")


def history_tab(detail: ItemDetail) -> None:
    if len(detail.history):
        frame = detail.history.assign(bound=detail.history["bound_hash"] == detail.bound_hash)
        st.dataframe(
            frame[
                [
                    "decided_at",
                    "reviewer",
                    "role",
                    "decision",
                    "annotation_id",
                    "original_label",
                    "corrected_label",
                    "comment",
                    "bound",
                    "audit_seq",
                ]
            ],
            hide_index=True,
            width="stretch",
        )
        st.caption(
            "The latest decision is the current one; 'bound' says whether the item is still what it was decided on."
        )
    else:
        st.caption("No decision on this item in this run yet.")
    if len(detail.other_runs):
        st.markdown("**Decisions on the same item id in other runs**")
        st.dataframe(detail.other_runs.drop(columns=["bound_hash"]), hide_index=True, width="stretch")
