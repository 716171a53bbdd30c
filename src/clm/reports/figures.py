"""The driver report's charts, as inline SVG so the report stays one offline file.

Chart labels are English (no CJK font is needed to draw them); the report's HTML captions
and tables carry the Chinese names. Figures are built with matplotlib's object API, never
pyplot, so nothing global changes when the report is made.
"""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import polars as pl
from matplotlib.figure import Figure

from clm.domain.taxonomy import load_taxonomy

BAR = "#c0504d"
SURVEY = "#7f7f7f"


def category_bars(shares: pl.DataFrame) -> str:
    """Horizontal bars: each category's share of what pushes high-risk customers to leave."""
    taxonomy = load_taxonomy()
    codes = list(taxonomy.categories)
    values = [shares[code][0] for code in codes]
    return _horizontal_bars([taxonomy.categories[c].en for c in codes], values, "category")


def cause_bars(shares: pl.DataFrame, count: int) -> str:
    """Horizontal bars for the ``count`` causes with the largest share."""
    taxonomy = load_taxonomy()
    top = shares.head(count)
    labels = [taxonomy.causes[code].en for code in top["cause"]]
    return _horizontal_bars(labels, top["share"].to_list(), "cause")


def survey_bars(comparison: pl.DataFrame) -> str:
    """Per network, the drivers' category shares next to the exit survey's."""
    taxonomy = load_taxonomy()
    codes = list(taxonomy.categories)
    networks = sorted(comparison["network"].unique())
    figure = Figure(figsize=(4.2 * len(networks), 3.6), layout="constrained")
    axes = figure.subplots(1, len(networks), sharey=True, squeeze=False)[0]
    positions = np.arange(len(codes))
    for ax, network in zip(axes, networks, strict=True):
        rows = {r["category"]: r for r in comparison.filter(network=network).iter_rows(named=True)}
        drivers = [rows[c]["driver_share"] * 100 for c in codes]
        survey = [rows[c]["survey_share"] * 100 for c in codes]
        ax.barh(positions - 0.2, drivers, height=0.4, color=BAR, label="model drivers")
        ax.barh(positions + 0.2, survey, height=0.4, color=SURVEY, label="exit survey")
        ax.set_title(f"network {network}")
        ax.set_xlabel("% of churn reasons")
    axes[0].set_yticks(positions, [taxonomy.categories[c].en for c in codes])
    axes[0].invert_yaxis()  # the axes share y: inverting one inverts all
    figure.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=2)
    return svg(figure)


def _horizontal_bars(labels: list[str], values: list[float], what: str) -> str:
    figure = Figure(figsize=(6.4, 0.34 * len(labels) + 0.9), layout="constrained")
    ax = figure.subplots()
    percent = [value * 100 for value in values]
    bars = ax.barh(labels, percent, color=BAR)
    ax.bar_label(bars, fmt="%.0f%%", padding=2, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"% of the push towards churn of high-risk customers, by {what}", fontsize=9)
    ax.set_xlim(0, max(percent, default=0) * 1.15 + 1)
    return svg(figure)


def svg(figure: Figure) -> str:
    """The figure as an ``<svg>`` element; text stays text so the browser draws it."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "clm"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]
