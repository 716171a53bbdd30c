"""Fail fast and clearly when the tracking server behind MLFLOW_TRACKING_URI is down.

MLflow's HTTP client retries a dead server with exponential backoff for minutes by default;
an operator running ``clm promote`` wants one line naming the URI instead.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request

HEALTH_TIMEOUT_SECONDS = 5.0
# Used only where the operator has not set them: a few quick retries, then a clear error.
SHORT_HTTP_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


class RegistryUnreachableError(RuntimeError):
    """The tracking server does not answer its health check."""


def shorten_http_retries() -> None:
    """Keep MLflow's HTTP retries short for an interactive command (the env wins if set)."""
    for key, value in SHORT_HTTP_RETRIES.items():
        os.environ.setdefault(key, value)


def check_reachable(tracking_uri: str) -> None:
    """For an http(s) tracking URI, one GET of ``/health``; other stores need no server."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    url = f"{tracking_uri.rstrip('/')}/health"
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_SECONDS):
            pass  # any 2xx answer means up; urlopen raises on 4xx/5xx
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise RegistryUnreachableError(
            f"MLflow tracking server {tracking_uri} is unreachable ({reason}); check "
            "MLFLOW_TRACKING_URI and that `mlflow server` is running"
        ) from error
