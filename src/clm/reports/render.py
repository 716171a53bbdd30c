"""Render a report page: one Jinja environment over ``templates/``, whose pages extend
``base.html.j2`` (inline CSS, bilingual macros, no scripts and nothing fetched)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("clm.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(template: str, **context: object) -> str:
    """The HTML of ``template`` (a page under ``clm/reports/templates``) with ``context``."""
    return _environment().get_template(template).render(**context)
