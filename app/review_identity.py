"""Who is using the review screen: the sidebar's identity panel.

``st.login`` when ``secrets.toml`` has an ``[auth]`` section; else the reviewers file (pick
your name, type the shared token if it sets one); else a typed name. The engine refuses
decisions without an identity or by a viewer whatever the screen does.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app import review_data
from app.review_render import md_escape
from engine.reviewers import Reviewer, ReviewerDirectory, typed_reviewer
from labelgate.errors import LabelgateError

IDENTITY = "identity"


def auth_configured() -> bool:
    """Whether Streamlit's built-in authentication is set up (``[auth]`` in secrets.toml)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all, or an unreadable one: not configured
        return False


def current() -> Reviewer | None:
    value = st.session_state.get(IDENTITY)
    return value if isinstance(value, Reviewer) else None


def _sign_in(directory: ReviewerDirectory) -> None:
    try:
        st.session_state[IDENTITY] = directory.sign_in(
            st.session_state.get("id_name"), st.session_state.get("id_token")
        )
        st.session_state["id_token"] = ""
        st.session_state.pop("id_problem", None)
    except LabelgateError as exc:
        st.session_state[IDENTITY] = None
        st.session_state["id_problem"] = exc.message


def _sign_out() -> None:
    st.session_state[IDENTITY] = None
    st.session_state.pop("id_problem", None)


def _user_field(name: str) -> Any:
    try:
        return st.user.get(name)
    except Exception:
        return None


def panel() -> Reviewer | None:
    """Render the identity panel in the sidebar; the signed-in reviewer, if any."""
    box = st.sidebar.container(border=True)
    try:
        directory = review_data.directory()
    except LabelgateError as exc:
        box.error(md_escape(exc.message))
        st.session_state[IDENTITY] = None
        return None
    if auth_configured():
        return _login_panel(box, directory)
    if directory is not None:
        return _directory_panel(box, directory)
    box.text_input(
        "Your name", key="id_typed", placeholder="required to decide", help="Recorded with every decision you make."
    )
    typed = st.session_state.get("id_typed", "")
    reviewer = None
    if typed and typed.strip():
        try:
            reviewer = typed_reviewer(typed)
        except LabelgateError as exc:
            box.error(md_escape(exc.message))
    st.session_state[IDENTITY] = reviewer
    if reviewer is None:
        box.caption("Type your name to record decisions.")
    return reviewer


def _login_panel(box: Any, directory: ReviewerDirectory | None) -> Reviewer | None:
    if not _user_field("is_logged_in"):
        st.session_state[IDENTITY] = None
        box.caption("Sign in to record decisions.")
        box.button("Log in", key="id_login", on_click=st.login, type="primary", width="stretch")
        return None
    email, name = _user_field("email"), _user_field("name")
    try:
        if directory is not None:
            reviewer = directory.for_login(email, name)
        else:
            reviewer = Reviewer(str(name or email), "reviewer", "oidc")
    except LabelgateError as exc:
        box.error(md_escape(exc.message))
        return None
    st.session_state[IDENTITY] = reviewer
    _signed_in(box, reviewer)
    box.button("Log out", key="id_logout", on_click=st.logout, width="stretch")
    return reviewer


def _directory_panel(box: Any, directory: ReviewerDirectory) -> Reviewer | None:
    reviewer = current()
    entry = directory.by_name.get(reviewer.name) if reviewer is not None else None
    if reviewer is not None and entry is not None:
        if entry.role != reviewer.role:  # the file changed since sign-in: its role applies now
            reviewer = Reviewer(reviewer.name, entry.role, reviewer.identity)
            st.session_state[IDENTITY] = reviewer
        _signed_in(box, reviewer)
        box.button("Sign out", key="id_signout", on_click=_sign_out, width="stretch")
        return reviewer
    st.session_state[IDENTITY] = None
    box.selectbox("Your name", directory.names, index=None, key="id_name", placeholder="choose your name")
    if directory.needs_token:
        box.text_input("Shared token", type="password", key="id_token")
    box.button("Sign in", key="id_signin", on_click=_sign_in, args=(directory,), type="primary", width="stretch")
    if st.session_state.get("id_problem"):
        box.error(md_escape(st.session_state["id_problem"]))
    return None


def _signed_in(box: Any, reviewer: Reviewer) -> None:
    badge = "reviewer" if reviewer.can_decide else "viewer: read only"
    box.markdown(f"**{md_escape(reviewer.name)}**  \n:gray[{badge}]")
