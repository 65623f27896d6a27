"""HTML fragments for the review screen. Every piece of dataset text is escaped first."""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.review_media import HIGHLIGHT

SEVERITY_COLORS = {"critical": "#B71C1C", "major": "#E65100", "minor": "#827717", "info": "#546E7A"}
DECISION_WORDS = {"accept": "Accepted", "reject": "Rejected", "fix_label": "Label fixed"}


@dataclass(frozen=True)
class Span:
    annotation_id: str
    start: int
    end: int
    label: str


def _tint(color: str, alpha: str = "40") -> str:
    return f"{color}{alpha}"


def spans_html(text: str, spans: Sequence[Span], colors: dict[str, str], flagged: Iterable[str] = ()) -> str:
    """The text with each span tinted in its class colour and labelled; flagged spans outlined."""
    flagged_set = set(flagged)
    valid = [s for s in spans if 0 <= s.start < s.end <= len(text)]
    cuts = sorted({0, len(text), *(s.start for s in valid), *(s.end for s in valid)})
    out: list[str] = []
    for left, right in itertools.pairwise(cuts):
        piece = html.escape(text[left:right])
        covering = [s for s in valid if s.start <= left and right <= s.end]
        if not covering:
            out.append(piece)
            continue
        span = next((s for s in covering if s.annotation_id in flagged_set), covering[0])
        color = colors.get(span.label, "#7F7F7F")
        style = f"background:{_tint(color, '55')};border-bottom:3px solid {color};padding:1px 0;"
        if span.annotation_id in flagged_set:
            style += f"outline:3px solid {HIGHLIGHT};outline-offset:1px;border-radius:2px;"
        out.append(f'<span style="{style}">{piece}</span>')
        ending = [s for s in covering if s.end == right]
        for s in ending:
            tag_color = HIGHLIGHT if s.annotation_id in flagged_set else colors.get(s.label, "#7F7F7F")
            out.append(
                f'<sup style="background:{tag_color};color:#fff;font-size:0.7em;padding:0 4px;'
                f'border-radius:3px;margin:0 2px;">{html.escape(s.label)} #{html.escape(s.annotation_id)}</sup>'
            )
    return (
        '<div style="font-size:1.15rem;line-height:2.1;white-space:pre-wrap;padding:12px 16px;'
        'border:1px solid #ddd;border-radius:8px;background:#fff;">' + "".join(out) + "</div>"
    )


def text_html(text: str) -> str:
    return (
        '<div style="font-size:1.15rem;line-height:1.8;white-space:pre-wrap;padding:12px 16px;'
        'border:1px solid #ddd;border-radius:8px;background:#fff;">' + html.escape(text) + "</div>"
    )


def chips(items: Iterable[tuple[str, str]], *, flagged: Iterable[str] = ()) -> str:
    """Coloured label chips: (text, colour) pairs."""
    marked = set(flagged)
    parts = []
    for text, color in items:
        border = f"2px solid {HIGHLIGHT}" if text in marked else f"1px solid {color}"
        parts.append(
            f'<span style="display:inline-block;margin:2px 4px 2px 0;padding:1px 8px;border-radius:10px;'
            f'border:{border};background:{_tint(color)};font-size:0.85rem;">'
            f'<span style="color:{color};">&#9632;</span> {html.escape(text)}</span>'
        )
    return "".join(parts)


def severity_badge(severity: str) -> str:
    color = SEVERITY_COLORS.get(severity, "#546E7A")
    return (
        f'<span style="background:{color};color:#fff;border-radius:4px;padding:1px 6px;'
        f'font-size:0.75rem;font-weight:600;text-transform:uppercase;">{html.escape(severity)}</span>'
    )


def rule_card(
    rule_id: str, severity: str, clause: str, message: str, annotation_id: str | None, noun: str = "box"
) -> str:
    """One fired rule: id, severity, the guideline clause it cites, and its message."""
    target = (
        f' &middot; <span style="color:#555;">{html.escape(noun)} #{html.escape(annotation_id)}</span>'
        if annotation_id
        else ""
    )
    return (
        '<div style="border-left:4px solid {c};padding:4px 10px;margin:0 0 8px 0;background:#fafafa;">'
        '<div><code style="font-weight:700;">{rid}</code> {badge}{target}</div>'
        '<div style="margin-top:2px;">{msg}</div>'
        '<div style="color:#555;font-size:0.85rem;margin-top:2px;">&#167; {clause}</div></div>'
    ).format(
        c=SEVERITY_COLORS.get(severity, "#546E7A"),
        rid=html.escape(rule_id),
        badge=severity_badge(severity),
        target=target,
        msg=html.escape(message),
        clause=html.escape(clause),
    )


def values_text(values: Any) -> str:
    """Judgment values as ``key=value`` pairs (JSON text or a dict)."""
    if isinstance(values, str):
        try:
            values = json.loads(values)
        except ValueError:
            return str(values)
    if not isinstance(values, dict):
        return "" if values is None else str(values)
    return ", ".join(f"{k}={v}" for k, v in values.items() if k != "confidence")


def short_hash(digest: str | None) -> str:
    return (digest or "")[:12]


def reasons_box(reasons: Sequence[tuple[str, str, str | None]], noun: str = "box") -> str:
    """Why the item waits for a person: each escalation's check id, reason and annotation."""
    items = "".join(
        f"<li><b>{html.escape(check)}</b>"
        + (f" ({html.escape(noun)} #{html.escape(ann)})" if ann else "")
        + f": {html.escape(reason)}</li>"
        for check, reason, ann in reasons
    )
    return (
        '<div style="background:#FFF8E1;border:1px solid #FFD54F;border-radius:8px;padding:8px 12px;'
        'margin-bottom:12px;"><div style="font-weight:700;margin-bottom:2px;">Why it is here</div>'
        f'<ul style="margin:0;padding-left:18px;">{items or "<li>no escalation recorded</li>"}</ul></div>'
    )


def judgment_line(annotation_id: str, confidence: float | None, tier: str, model: str, values: Any) -> str:
    """One judgment: annotation, a confidence bar, tier and model, then the values."""
    conf = "n/a" if confidence is None else f"{confidence:.2f}"
    width = 0 if confidence is None else round(confidence * 100)
    color = (
        "#C62828"
        if confidence is not None and confidence < 0.6
        else ("#F9A825" if confidence is not None and confidence < 0.8 else "#2E7D32")
    )
    return (
        '<div style="margin-bottom:8px;font-size:0.9rem;">'
        f"<b>#{html.escape(annotation_id)}</b> · confidence <b>{conf}</b> "
        '<span style="display:inline-block;width:80px;height:8px;background:#eee;border-radius:4px;'
        f'vertical-align:middle;"><span style="display:block;width:{width}%;height:8px;background:{color};'
        'border-radius:4px;"></span></span>'
        f" · {html.escape(tier)} ({html.escape(model)})<br/>"
        f'<span style="color:#444;">{html.escape(values_text(values))}</span></div>'
    )


_MD_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:")


def md_escape(text: str) -> str:
    """Text safe inside Streamlit markdown (dataset ids and reviewer names are untrusted)."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def number(value: object) -> float | None:
    """A float, or None for missing values (NaN, NA, None) and anything non-numeric."""
    if value is None or isinstance(value, str | bytes):
        return None
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if result != result else result
