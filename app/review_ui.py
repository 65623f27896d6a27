"""The review screen's frame: page setup, sidebar (identity, pages, filters) and routing.

Started by ``labelgate review`` (see ``app/cli_review.py``) through ``app/review_app.py``.
"""

from __future__ import annotations

import streamlit as st

from app import review_dashboard_page, review_data, review_identity, review_item_page, review_nav, review_queue_page
from app.review_render import md_escape
from labelgate.errors import LabelgateError


def main() -> None:
    st.set_page_config(
        page_title="labelgate review",
        page_icon=":material/fact_check:",
        layout="wide",
        initial_sidebar_state="expanded",
    )
    st.markdown(
        "<style>div.block-container{padding-top:2.2rem;padding-bottom:2rem;}"
        "[data-testid='stMetricValue']{font-size:1.6rem;}</style>",
        unsafe_allow_html=True,
    )
    db = review_data.db_path()
    st.sidebar.markdown("## :material/fact_check: labelgate review")
    st.sidebar.caption(str(db))
    review_identity.panel()
    view = review_nav.view()
    nav = st.sidebar.columns(2)
    nav[0].button(
        "Queue",
        key="nav_queue",
        on_click=review_nav.open_queue,
        width="stretch",
        type="primary" if view != "dashboard" else "secondary",
    )
    nav[1].button(
        "Dashboard",
        key="nav_dashboard",
        on_click=review_nav.open_dashboard,
        args=(st.query_params.get("run"),),
        width="stretch",
        type="primary" if view == "dashboard" else "secondary",
    )
    if not db.exists():
        st.error(md_escape(f"{db}: no such database: run `labelgate score ... --db {db}` (or `labelgate demo`) first"))
        return
    try:
        if view == "dashboard":
            review_dashboard_page.render()
            return
        page = int(st.session_state.get(review_queue_page.PAGE, 1))
        filters = review_nav.filters()
        if st.session_state.get("_last_filters") != filters:
            st.session_state["_last_filters"] = filters
            page = 1
            st.session_state[review_queue_page.PAGE] = 1
        options, queue = review_data.queue(filters, page)
        review_nav.filter_panel(options)
        if view == "item":
            review_item_page.render_item(queue)
        else:
            review_queue_page.render(options, queue)
    except LabelgateError as exc:
        st.error(md_escape(exc.message))
