"""params.yaml is the one source of tunable values: every key it sets is required by its
config dataclass, so no default in code can drift from it, and a missing key is named."""

from __future__ import annotations

import copy
import dataclasses
import re
import typing
from collections.abc import Iterator

import pytest
from tests.params import REPO_PARAMS, Params, repo_params

from clm.config import ConfigError, from_dict, read_params

# Fields params.yaml may leave out, by class: a search range is continuous and linear unless
# it says otherwise; a metric gate without a limit gates on the tolerance alone.
OPTIONAL = {("Range", "log"), ("Range", "integer"), ("MetricGate", "limit")}

Key = tuple[tuple[str, ...], type, str]  # path in params.yaml, the dataclass, its field


def keys_filling_fields(
    hint: typing.Any, value: typing.Any, path: tuple[str, ...]
) -> Iterator[Key]:
    """Every key of ``value`` that fills a dataclass field, nested dataclasses and dicts of
    them (measures, search ranges, metric gates) included."""
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        for name, item in value.items():
            yield (*path, name), hint, name
            yield from keys_filling_fields(hints[name], item, (*path, name))
    elif typing.get_origin(hint) is dict:
        _, item_hint = typing.get_args(hint)
        for key, item in value.items():
            yield from keys_filling_fields(item_hint, item, (*path, key))


def without(values: dict, path: tuple[str, ...]) -> dict:
    trimmed = copy.deepcopy(values)
    parent = trimmed
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return trimmed


RAW = read_params(REPO_PARAMS)
REQUIRED = [
    (path, name)
    for path, cls, name in keys_filling_fields(Params, RAW, ())
    if (cls.__name__, name) not in OPTIONAL
]


def test_every_section_has_a_config_and_loads():
    assert set(RAW) == {field.name for field in dataclasses.fields(Params)}
    assert repo_params().split.train_months == RAW["split"]["train_months"]


@pytest.mark.parametrize(("path", "name"), REQUIRED, ids=[".".join(p) for p, _ in REQUIRED])
def test_a_key_params_yaml_sets_is_required_and_named_when_missing(path, name):
    where = ".".join(("params.yaml", *path[:-1]))
    with pytest.raises(ConfigError, match=re.escape(f"{where}: missing keys ['{name}']")):
        from_dict(Params, without(RAW, path), where="params.yaml")
