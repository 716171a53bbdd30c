"""The monitoring report: one self-contained, bilingual HTML page with the time series.

Built on the shared report stack (``clm.reports``): the base template and macros, inline SVG
charts drawn with matplotlib's object API, nothing fetched.
"""

from __future__ import annotations

from datetime import date

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from clm.domain.taxonomy import load_taxonomy
from clm.reports.figures import svg
from clm.reports.render import render_page

LINE = "#c0504d"
SECOND = "#4f81bd"


def render_report(document: dict) -> str:
    """The report's HTML for a monitoring document."""
    months = document["months"]
    return render_page(
        "monitoring.html.j2",
        doc=document,
        taxonomy=load_taxonomy(),
        no_reason=None,
        charts={
            "drivers": driver_chart(months),
            "score": score_chart(months),
            "decay": decay_chart(months),
        },
    )


def _month_axis(ax: Axes, months: list[dict]) -> range:
    """The x positions of ``months``, labelled ``YYYY-MM`` (positions, not the labels
    themselves: matplotlib logs a line per series plotted against text that reads as dates)."""
    positions = range(len(months))
    ax.set_xticks(positions, [f"{date.fromisoformat(m['month']):%Y-%m}" for m in months])
    return positions


def driver_chart(months: list[dict]) -> str:
    """Each category's driver share among high-risk customers, month by month."""
    taxonomy = load_taxonomy()
    figure = Figure(figsize=(7.2, 3.8), layout="constrained")
    ax = figure.subplots()
    x = _month_axis(ax, months)
    for code, category in taxonomy.categories.items():
        shares = [
            next((row["share"] * 100 for row in m["categories"] if row["code"] == code), 0.0)
            for m in months
        ]
        ax.plot(x, shares, marker="o", label=category.en)
    ax.set_ylabel("% of the push towards churn (high risk)")
    figure.legend(loc="outside right upper", fontsize=8)
    return svg(figure)


def score_chart(months: list[dict]) -> str:
    """Mean churn probability and the score's PSI against the reference and last month."""
    figure = Figure(figsize=(7.2, 3.4), layout="constrained")
    left = figure.subplots()
    x = _month_axis(left, months)
    left.plot(x, [m["mean_churn_probability"] * 100 for m in months], color=LINE, marker="o")
    left.set_ylabel("mean churn probability, %", color=LINE)
    right = left.twinx()
    for key, style in (("psi_reference", "-"), ("psi_previous", "--")):
        values = [m[key]["churn_probability"] for m in months]
        right.plot(x, values, color=SECOND, linestyle=style, marker=".", label=key)
    right.set_ylabel("score PSI", color=SECOND)
    right.legend(loc="upper left", fontsize=8)
    return svg(figure)


def decay_chart(months: list[dict]) -> str:
    """Realised ROC-AUC and top-decile lift of the months whose churn window has closed."""
    closed = [m for m in months if m["performance"]]
    figure = Figure(figsize=(7.2, 3.2), layout="constrained")
    left = figure.subplots()
    x = _month_axis(left, closed)
    left.plot(x, [m["performance"]["roc_auc"] for m in closed], color=LINE, marker="o")
    left.set_ylabel("realised ROC-AUC", color=LINE)
    right = left.twinx()
    lift = [m["performance"]["top_decile_lift"] for m in closed]
    right.plot(x, lift, color=SECOND, marker="s")
    right.set_ylabel("top-decile lift", color=SECOND)
    return svg(figure)
