"""The MLflow model registry: versions, aliases and the tags that explain them.

Aliases, never the deprecated stages API: a new version becomes ``challenger``; promotion
moves ``champion``.
"""

from __future__ import annotations

import logging

from mlflow import MlflowClient

log = logging.getLogger(__name__)

CHALLENGER = "challenger"
CHAMPION = "champion"
REGISTERED_MODELS = {"churn": "clm-churn", "stage": "clm-stage", "scorer": "clm-scorer"}


class UnknownModelError(ValueError):
    """A model key that names no registered model."""


def registered_name(model: str) -> str:
    """The registered model of a model key (``churn`` -> ``clm-churn``)."""
    if model not in REGISTERED_MODELS:
        raise UnknownModelError(f"unknown model '{model}'; known: {', '.join(REGISTERED_MODELS)}")
    return REGISTERED_MODELS[model]


def mark_challenger(name: str, version: str, tags: dict[str, str]) -> None:
    """Tag a new version and point the ``challenger`` alias at it."""
    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, str(value))
    client.set_registered_model_alias(name, CHALLENGER, version)
    log.info("registered %s version %s as %s", name, version, CHALLENGER)
