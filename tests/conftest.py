"""Test-process setup: the shared fixtures (``tests/fixtures.py``) and the xdist groups.

The fixtures are loaded only by a process that runs tests. Under xdist the controller runs none,
and importing them (MLflow, XGBoost, the pipeline: about 20 s on 2 cores) would delay every
worker's start by that much.
"""

from __future__ import annotations

import pytest

# Fixtures that take the longest to build (the session's stores and data, the HTTP server);
# under xdist (``--dist loadgroup``) the tests that need one run on one worker, which builds it
# once (xdist schedules the groups with the most tests first).
BUILT_ONCE = ("trained_store", "default_sized_data", "promotion_server")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = next((name for name in BUILT_ONCE if name in item.fixturenames), None)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(trylast=True)  # after xdist's own hook has registered its controller
def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("dsession"):
        config.pluginmanager.import_plugin("tests.fixtures")
