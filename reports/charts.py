"""Charts as static SVG: Vega-Altair specs rendered by vl-convert (bundled engine, no network).

Data is aggregated before it reaches a chart (a few dozen rows), so rendering costs the same
for 40 items or 100,000. The SVG is inlined in the report: no script, no external resource.
vl-convert escapes the text it draws (labels come from untrusted datasets); :func:`to_svg`
still refuses SVG carrying script or event handlers, and shows a note instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import vl_convert
from markupsafe import Markup, escape

DECISION_COLORS = {"pass": "#2e7d32", "review": "#f9a825", "fail": "#c62828"}
SEVERITY_COLORS = {"critical": "#b71c1c", "major": "#e65100", "minor": "#f9a825", "info": "#607d8b"}
_UNSAFE = re.compile(r"<script|<foreignObject|\son[a-z]+\s*=|javascript:", re.IGNORECASE)
_XMLNS = re.compile(r'\s+xmlns(:xlink)?="[^"]*"')
WIDTH = 520
COUNT_AXIS = alt.Axis(format="d", tickMinStep=1)  # counts: whole-number ticks


def to_svg(chart: alt.TopLevelMixin) -> Markup:
    """Render a chart to inline SVG (namespace attributes dropped: HTML needs none)."""
    svg = vl_convert.vegalite_to_svg(chart.to_dict())
    if _UNSAFE.search(svg):
        return Markup("<p class='note'>chart omitted: its SVG contained active content</p>")
    return Markup(_XMLNS.sub("", svg, count=2))


def _scale(mapping: dict[str, str], present: Sequence[str]) -> alt.Scale:
    domain = [k for k in mapping if k in present] + [k for k in present if k not in mapping]
    return alt.Scale(domain=domain, range=[mapping.get(k, "#9e9e9e") for k in domain])


def bins(values: np.ndarray, weights: np.ndarray, count: int = 20, lo: float | None = None) -> pd.DataFrame:
    """Equal-width histogram bins (start, end, weight) of ``values`` weighted by ``weights``."""
    if len(values) == 0:
        return pd.DataFrame({"start": [], "end": [], "weight": []})
    low = float(values.min()) if lo is None else lo
    high = float(values.max())
    if high <= low:
        high = low + 1.0
    counts, edges = np.histogram(values, bins=count, range=(low, high), weights=weights)
    return pd.DataFrame({"start": edges[:-1], "end": edges[1:], "weight": counts})


def score_histogram(values: pd.DataFrame, pass_at: float | None) -> Markup:
    """Items per score bin (20 equal bins from min(0, lowest) to max(100, highest)), stacked by decision."""
    low = min(0.0, float(values["score"].min())) if len(values) else 0.0
    high = max(100.0, float(values["score"].max())) if len(values) else 100.0
    edges = np.linspace(low, high, 21)
    frames = []
    for decision, group in values.groupby("decision"):
        counts, _ = np.histogram(group["score"].to_numpy(float), bins=edges, weights=group["items"].to_numpy(float))
        frames.append(pd.DataFrame({"start": edges[:-1], "end": edges[1:], "weight": counts, "decision": decision}))
    data = pd.concat(frames) if frames else pd.DataFrame({"start": [], "end": [], "weight": [], "decision": []})
    data = data[data["weight"] > 0]
    base = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("start:Q", title="score", scale=alt.Scale(domain=[low, high], nice=False)),
            x2="end:Q",
            y=alt.Y("sum(weight):Q", title="items", stack="zero", axis=COUNT_AXIS),
            color=alt.Color(
                "decision:N", scale=_scale(DECISION_COLORS, list(data["decision"].unique())), title="decision"
            ),
        )
    )
    layers: list[Any] = [base]
    if pass_at is not None:
        rule = alt.Chart(pd.DataFrame({"x": [pass_at]})).mark_rule(color="#333", strokeDash=[4, 3]).encode(x="x:Q")
        layers.append(rule)
    return to_svg(alt.layer(*layers).properties(width=WIDTH, height=200))


def rule_bars(rules: pd.DataFrame, limit: int = 30) -> Markup:
    shown = rules.head(limit)
    chart = (
        alt.Chart(shown)
        .mark_bar()
        .encode(
            y=alt.Y("rule_id:N", sort=list(shown["rule_id"]), title=None),
            x=alt.X("findings:Q", title="findings", axis=COUNT_AXIS),
            color=alt.Color("severity:N", scale=_scale(SEVERITY_COLORS, list(shown["severity"].unique()))),
        )
        .properties(width=WIDTH - 80, height=max(60, 16 * len(shown)))
    )
    return to_svg(chart)


def class_bars(classes: pd.DataFrame, limit: int = 25) -> Markup:
    shown = classes.head(limit)
    data = pd.concat(
        [
            pd.DataFrame({"label": shown["label"], "state": "flagged", "n": shown["flagged_annotations"]}),
            pd.DataFrame(
                {"label": shown["label"], "state": "clean", "n": shown["annotations"] - shown["flagged_annotations"]}
            ),
        ]
    )
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=list(shown["label"]), title=None),
            x=alt.X("sum(n):Q", title="annotations", axis=COUNT_AXIS),
            color=alt.Color(
                "state:N", scale=alt.Scale(domain=["flagged", "clean"], range=["#c62828", "#90a4ae"]), title=None
            ),
        )
        .properties(width=WIDTH - 80, height=max(60, 16 * len(shown)))
    )
    return to_svg(chart)


def tier_cost_bars(tiers: pd.DataFrame) -> Markup:
    data = pd.concat(
        [
            pd.DataFrame(
                {"tier": tiers["tier"], "attempts": "ok", "usd": tiers["cost_usd"] - tiers["failed_cost_usd"]}
            ),
            pd.DataFrame({"tier": tiers["tier"], "attempts": "failed", "usd": tiers["failed_cost_usd"]}),
        ]
    )
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("tier:N", title=None),
            x=alt.X("sum(usd):Q", title="cost (USD)"),
            color=alt.Color(
                "attempts:N", scale=alt.Scale(domain=["ok", "failed"], range=["#1565c0", "#c62828"]), title="attempts"
            ),
        )
        .properties(width=WIDTH - 80, height=max(60, 28 * len(tiers)))
    )
    return to_svg(chart)


def item_cost_histogram(costs: pd.DataFrame) -> Markup:
    values = costs["cost_usd"].to_numpy(float)
    data = bins(values, np.ones_like(values), 20, 0.0)
    data = data[data["weight"] > 0]
    chart = (
        alt.Chart(data)
        .mark_bar(color="#1565c0")
        .encode(
            x=alt.X("start:Q", title="model cost per item (USD)", scale=alt.Scale(domainMin=0)),
            x2="end:Q",
            y=alt.Y("sum(weight):Q", title="items", stack="zero", axis=COUNT_AXIS),
        )
        .properties(width=WIDTH, height=160)
    )
    return to_svg(chart)


def text(value: object) -> Markup:
    return Markup("<p class='note'>{}</p>").format(escape(str(value)))
