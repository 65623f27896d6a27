"""The run dashboard: outcomes, review progress, top rules, cost and the score distribution."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import streamlit as st

from app import review_data
from app import review_nav as nav
from engine.review_queue import SCORE_BUCKETS, bucket_label

DECISION_COLORS = {"pass": "#2E7D32", "fail": "#C62828", "review": "#F9A825"}


def _pick_run() -> None:
    nav.open_dashboard(str(st.session_state.get("dash_run") or ""))


def render() -> None:
    st.title("Run dashboard")
    nav.show_flash()
    runs = review_data.runs()
    if runs.empty:
        st.info("No runs in this database yet: run `labelgate score` or `labelgate demo` first.")
        return
    ids = [str(r) for r in runs["run_id"]]
    wanted = st.query_params.get("run")
    run_id = str(wanted) if wanted in ids else ids[0]
    labels = {
        str(
            r.run_id
        ): f"{r.run_id} · {Path(str(r.dataset_path)).name} · {r.rulebook_name}@{r.rulebook_version} ({r.status})"
        for r in runs.itertuples()
    }
    st.session_state["dash_run"] = run_id
    st.selectbox("Run", ids, format_func=lambda v: labels[v], key="dash_run", on_change=_pick_run)
    board = review_data.dashboard(run_id)
    run = board.run
    scored = int(run.get("items_scored") or 0)
    cols = st.columns(5)
    cols[0].metric("Items scored", f"{scored:,}", help=f"{int(run.get('items_quarantined') or 0):,} quarantined")
    cols[1].metric("Passed", f"{int(run.get('passed') or 0):,}")
    cols[2].metric("Failed", f"{int(run.get('failed') or 0):,}")
    cols[3].metric("Needs review", f"{int(run.get('needs_review') or 0):,}")
    cols[4].metric("Findings", f"{int(run.get('findings') or 0):,}")

    progress = board.progress
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.subheader("Review progress")
        share = progress["decided"] / progress["in_review"] if progress["in_review"] else 1.0
        st.progress(share, text=f"{progress['decided']:,} of {progress['in_review']:,} decided ({share:.0%})")
        if len(board.decisions):
            st.dataframe(board.decisions, hide_index=True, width="stretch")
            st.caption(
                f"{board.overrides:,} current decision(s) overrule the model: `labelgate reviews {run_id} --overrides`"
            )
        if progress["to_review"]:
            st.button(
                f"Review the {progress['to_review']:,} waiting item(s) of this run ▶",
                key="dash_review",
                type="primary",
                on_click=_review_run,
                args=(run_id,),
            )
    with right:
        st.subheader("Cost")
        simulated = bool(run.get("simulated"))
        cost = float(run.get("cost_usd") or 0.0)
        passed = int(run.get("passed") or 0)
        c = st.columns(3)
        c[0].metric("Model cost", f"${cost:.4f}", help="simulated prices" if simulated else None)
        c[1].metric("Model calls", f"{int(run.get('model_attempts') or 0):,}")
        c[2].metric("Per accepted item", f"${cost / passed:.5f}" if passed else "n/a")
        if len(board.cost_by_tier):
            st.dataframe(board.cost_by_tier, hide_index=True, width="stretch")

    left, right = st.columns([1, 1], gap="large")
    with left:
        st.subheader("Score distribution")
        if len(board.scores):
            buckets = [bucket_label(b) for b in SCORE_BUCKETS]
            chart = (
                alt.Chart(board.scores)
                .mark_bar()
                .encode(
                    x=alt.X(
                        "score:N",
                        sort=buckets,
                        scale=alt.Scale(domain=buckets),
                        title="item score",
                        axis=alt.Axis(labelAngle=0),
                    ),
                    y=alt.Y("items:Q", title="items"),
                    color=alt.Color(
                        "decision:N",
                        scale=alt.Scale(domain=list(DECISION_COLORS), range=list(DECISION_COLORS.values())),
                    ),
                    tooltip=["score", "decision", "items"],
                )
                .properties(height=280)
            )
            st.altair_chart(chart, width="stretch")
    with right:
        st.subheader("Top rules")
        st.dataframe(board.top_rules, hide_index=True, width="stretch")


def _review_run(run_id: str) -> None:
    st.session_state["f_runs"] = [run_id]
    st.session_state["f_status"] = "to review"
    nav.open_queue()
