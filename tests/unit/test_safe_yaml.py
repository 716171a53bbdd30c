"""The one YAML reader: anchors and aliases refused, one-line errors, every shipped file loads."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from clm.config import ConfigError, read_params
from clm.safe_yaml import YamlError, parse_yaml, read_yaml

ROOT = Path(__file__).resolve().parents[2]

# 9 ** 8 = 43 million strings once expanded, from a few hundred bytes
BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)
)


def test_an_alias_bomb_is_refused_at_its_first_anchor():
    with pytest.raises(YamlError, match=r"^bomb.yaml:1: YAML anchors and aliases \(&a0, \*a0\)"):
        parse_yaml(BOMB, "bomb.yaml")


def test_an_alias_is_refused_on_its_own_line():
    # an anchor alone is refused too: nothing clm reads needs one
    with pytest.raises(YamlError, match=r"^f.yaml:2: YAML anchors"):
        parse_yaml("a: 1\nb: &keep 2\n", "f.yaml")


def test_a_syntax_error_is_one_line_with_the_line_number_and_no_file_text():
    with pytest.raises(YamlError) as error:
        parse_yaml("ok: 1\nsecret_value: b: c\n", "f.yaml")
    message = str(error.value)
    assert message.startswith("f.yaml:2: not valid YAML")
    assert "\n" not in message and "secret_value" not in message


def test_a_character_yaml_refuses_is_an_error_not_a_traceback():
    with pytest.raises(YamlError, match=r"^f.yaml: not valid YAML"):
        parse_yaml("a: \x00", "f.yaml")


def test_a_file_that_is_not_utf8_text_is_named(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(YamlError, match=r"f.yaml: not UTF-8 text \(byte 3\)"):
        read_yaml(path)


def test_params_with_an_alias_is_a_config_error(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(BOMB, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"params.yaml:1: YAML anchors and aliases"):
        read_params(params)


@pytest.mark.parametrize(
    "path",
    [
        ROOT / "params.yaml",
        ROOT / "dvc.yaml",
        ROOT / "dvc.lock",
        *sorted((ROOT / "mappings").glob("*.yaml")),
        *(
            resources.files(package) / name
            for package, name in [
                ("clm.domain", "taxonomy.yaml"),
                ("clm.features", "metadata.yaml"),
                ("clm.synthetic", "seed_figures.yaml"),
                ("clm.synthetic", "generator_profile.yaml"),
            ]
        ),
    ],
    ids=lambda path: path.name,
)
def test_every_shipped_yaml_file_loads_without_anchors(path):
    assert read_yaml(path)
