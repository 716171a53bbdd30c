"""The one YAML reader: safe types only, and no anchors or aliases.

An alias repeats a node by reference, so a few hundred bytes of nested aliases expand to
gigabytes once anything walks or prints the tree (a "billion laughs" document). No file clm
reads needs one, so every YAML file, the user's and the packaged ones, goes through here and
an anchor or alias is refused where it is defined. Errors are one line naming the file and
line, never the file's text.
"""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml


class YamlError(ValueError):
    """A YAML file is not valid YAML or uses an anchor or alias."""


class _NoAliasLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that stops at the first anchor (``&name``) or alias (``*name``)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise YamlError(
                f"{self.name}:{event.start_mark.line + 1}: YAML anchors and aliases "
                f"(&{event.anchor}, *{event.anchor}) are not allowed; write the value out"
            )
        return super().compose_node(parent, index)


def parse_yaml(text: str, where: str) -> Any:
    """``text`` as plain data; ``where`` names the source in errors."""
    try:
        loader = _NoAliasLoader(text)  # the reader checks the characters here
        loader.name = where
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else "?"
        raise YamlError(f"{where}:{line}: not valid YAML: {error.problem}") from error
    except yaml.YAMLError as error:  # e.g. a byte the reader does not accept
        raise YamlError(f"{where}: not valid YAML ({type(error).__name__})") from error


def read_yaml(path: Path | Traversable) -> Any:
    """The YAML file at ``path`` (a file or a packaged resource) as plain data."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise YamlError(f"{path}: not UTF-8 text (byte {error.start})") from error
    except OSError as error:
        raise YamlError(f"{path}: cannot be read ({type(error).__name__})") from error
    return parse_yaml(text, str(path))
