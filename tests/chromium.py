"""Open a report in headless Chromium, offline, and read back what a reader would see."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class RenderedReport:
    """What Chromium showed: title, chart sizes, headings, errors and every URL requested;
    ``extra`` holds what the caller's ``read`` took from the page."""

    title: str
    chart_sizes: list[dict | None]
    sections: list[str]
    subsections: list[str]
    problems: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    extra: Any = None

    def assert_offline_and_clean(self) -> None:
        assert self.problems == []
        assert all(url.startswith("file:") for url in self.requested), self.requested

    def assert_charts_drawn(self, count: int) -> None:
        assert len(self.chart_sizes) == count
        big = [box and box["width"] > 100 and box["height"] > 100 for box in self.chart_sizes]
        assert all(big), self.chart_sizes


def render(
    report: Path, profile: Path, read: Callable[[Page], Any] | None = None
) -> RenderedReport:
    """Load ``report`` from disk in headless Chromium (profile in ``profile``, removed after)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/setup.sh --tests` to install it")
    assert "<script" not in report.read_text(encoding="utf-8")  # nothing runs
    problems: list[str] = []
    requested: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("request", lambda request: requested.append(request.url))
            page.goto(report.as_uri(), wait_until="load")
            charts = page.locator("figure svg")
            return RenderedReport(
                title=page.title(),
                chart_sizes=[charts.nth(i).bounding_box() for i in range(charts.count())],
                sections=page.locator("h2").all_inner_texts(),
                subsections=page.locator("h3").all_inner_texts(),
                problems=problems,
                requested=requested,
                extra=read(page) if read else None,
            )
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)
