"""The campaign report: one self-contained, bilingual HTML file for business reviewers.

Same stack as the driver report (``clm.explain.report``): Jinja2 with autoescape, inline CSS
and an inline SVG chart drawn with matplotlib's object API, nothing fetched, so the page opens
offline and can be mailed or attached to the MLflow run.
"""

from __future__ import annotations

import polars as pl
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from matplotlib.figure import Figure

from clm.explain.figures import _svg as svg  # the driver report's SVG writer
from clm.explain.taxonomy import load_taxonomy

UPLIFT = "#c0504d"
RANDOM = "#7f7f7f"


def render_report(document: dict) -> str:
    """The report's HTML for a ``clm campaign measure`` document."""
    environment = Environment(
        loader=PackageLoader("clm.campaign", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = environment.get_template("campaign.html.j2")
    curve = pl.DataFrame(document["qini_curve"])
    return template.render(doc=document, taxonomy=load_taxonomy(), qini_chart=qini_chart(curve))


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
