"""One config path: a section of ``params.yaml`` loaded into a frozen dataclass.

Each stage declares its own frozen dataclass next to its logic and receives only its section,
so a stage reruns under DVC only when its own keys change.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from clm import paths
from clm.safe_yaml import YamlError, read_yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A params section is missing, has unknown keys or values of the wrong type."""


def read_params(path: Path = paths.PARAMS) -> dict[str, Any]:
    """Read the whole params file as a dict."""
    if not path.exists():
        raise ConfigError(f"params file not found: {path}")
    try:
        return read_yaml(path) or {}
    except YamlError as error:
        raise ConfigError(str(error)) from error


def load_section(cls: type[T], section: str, path: Path = paths.PARAMS) -> T:
    """Load ``section`` of the params file into the dataclass ``cls``."""
    params = read_params(path)
    if section not in params:
        raise ConfigError(f"{path}: section '{section}' is missing")
    return from_dict(cls, params[section], where=f"{path}:{section}")


def from_dict(cls: type[T], values: dict[str, Any], where: str = "config") -> T:
    """Build a (possibly nested) frozen dataclass from a plain dict, naming any bad key."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; allowed: {sorted(fields)}")
    missing = [name for name, field in fields.items() if name not in values and _required(field)]
    if missing:
        raise ConfigError(f"{where}: missing keys {missing}")
    hints = typing.get_type_hints(cls)
    kwargs = {
        name: _convert(hints[name], value, f"{where}.{name}") for name, value in values.items()
    }
    return cls(**kwargs)


def _required(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(hint):
            return None
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _convert(options[0], value, where)
    if origin is tuple:
        (item_hint, *_) = typing.get_args(hint)
        return tuple(_convert(item_hint, item, f"{where}[]") for item in value)
    if origin is dict:
        _, item_hint = typing.get_args(hint)
        return {key: _convert(item_hint, item, f"{where}.{key}") for key, item in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value
