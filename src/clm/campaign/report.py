"""The campaign report: one self-contained, bilingual HTML file for business reviewers.

The report stack every page shares (``clm.reports``): the base template's inline CSS and an
inline SVG chart drawn with matplotlib's object API, nothing fetched, so the page opens
offline and can be mailed or attached to the MLflow run.
"""

from __future__ import annotations

import polars as pl
from matplotlib.figure import Figure

from clm.domain.taxonomy import load_taxonomy
from clm.reports.figures import svg
from clm.reports.render import render_page

UPLIFT = "#c0504d"
RANDOM = "#7f7f7f"


def render_report(document: dict) -> str:
    """The report's HTML for a ``clm campaign measure`` document (or one that waits for the
    outcome months: ``measure_stage.write_waiting_report``)."""
    chart = qini_chart(pl.DataFrame(document["qini_curve"])) if "qini_curve" in document else ""
    return render_page("campaign.html.j2", doc=document, taxonomy=load_taxonomy(), qini_chart=chart)


def qini_chart(curve: pl.DataFrame) -> str:
    """The Qini curve against random targeting, as an inline SVG."""
    figure = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = figure.subplots()
    share = curve["share_targeted"] * 100
    ax.plot(share, curve["kept"], color=UPLIFT, label="targeted by predicted churn cut")
    ax.plot(share, curve["random"], color=RANDOM, linestyle="--", label="random targeting")
    ax.axhline(0, color="#bbbbbb", linewidth=0.8)
    ax.set_xlabel("% of pilot customers targeted, highest predicted cut first")
    ax.set_ylabel("customers kept vs control")
    ax.legend(loc="upper left", fontsize=8)
    return svg(figure)
