"""Test-process setup: the shared fixtures (``tests/fixtures.py``) and the xdist groups.

The fixtures are loaded only by a process that runs tests. Under xdist the controller runs none,
and importing them (MLflow, XGBoost, the pipeline: about 20 s on 2 cores) would delay every
worker's start by that much.
"""

from __future__ import annotations

import pytest

# Fixtures that take the longest to build (the session's stores and data, the HTTP server, the
# Spark cluster) and the xdist group of the tests that use them: under ``--dist loadgroup`` a
# group runs on one worker, which builds each once (xdist schedules the groups with the most
# tests first). The Spark cluster goes with the trained store: its scoring tests need both.
BUILT_ONCE = {
    "trained_store": "trained_store",
    "spark_cluster": "trained_store",
    "default_sized_data": "default_sized_data",
    "promotion_server": "promotion_server",
}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = next((g for name, g in BUILT_ONCE.items() if name in item.fixturenames), None)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(trylast=True)  # after xdist's own hook has registered its controller
def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("dsession"):
        config.pluginmanager.import_plugin("tests.fixtures")
