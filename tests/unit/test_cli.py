"""The command line's surface: one meaning per option name, usage mistakes as one line and exit
2, and no Spark for commands that do not use it."""

from __future__ import annotations

import subprocess
import sys
import typing

import pytest
import typer
from typer.testing import CliRunner

from clm.cli import app
from clm.paths import PARAMS


def commands(group: typer.core.TyperGroup, path: str = "clm") -> dict[str, typer.core.TyperCommand]:
    """Every leaf command of the app by its full name, e.g. ``clm campaign plan``."""
    found = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found |= commands(command, f"{path} {name}")
        else:
            found[f"{path} {name}"] = command
    return found


COMMANDS = commands(typer.main.get_command(app))


def options() -> list[tuple[str, str, str]]:
    """(command, option name, help) for every option of every command."""
    return [
        (command, name, parameter.help or "")
        for command, cli in COMMANDS.items()
        for parameter in cli.params
        for name in parameter.opts
        if name.startswith("--")
    ]


def one_line_error(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    return result.output


@pytest.mark.parametrize("command", ["tune", "train"])
def test_an_unknown_task_is_one_line_and_exit_2(command):
    message = one_line_error([command, "nope"])
    assert f" {command}: " in message and "'nope'" in message and "'churn'" in message


@pytest.mark.parametrize("command", ["promote", "rollback"])
def test_an_unknown_model_is_one_line_and_exit_2(command):
    assert "'nope'" in one_line_error([command, "--model", "nope"])


@pytest.mark.parametrize(
    "args",
    [
        ["score", "--scorer", "s", "--input", "i", "--out", "o", "--month", "2024-13-01"],
        ["score", "--scorer", "s", "--input", "i", "--out", "o", "--month", "2024-12-15"],
        ["campaign", "plan", "--month", "December"],
    ],
)
def test_a_bad_month_is_one_line_and_exit_2(args):
    assert "--month" in one_line_error(args)


def test_an_old_option_name_is_one_line_and_exit_2():
    assert "--output" in one_line_error(["score", "--output", "scores.parquet"])


def test_the_task_and_model_choices_are_the_librarys():
    from clm.models.tasks import TASKS
    from clm.registry import REGISTERED_MODELS

    def choices(command: str, name: str) -> set[str]:
        (parameter,) = (p for p in COMMANDS[f"clm {command}"].params if p.name == name)
        return set(typing.get_args(parameter.type_descriptor.annotation))

    assert choices("tune", "task") == choices("train", "task") == set(TASKS)
    assert choices("promote", "model") == choices("rollback", "model") == set(REGISTERED_MODELS)


def test_each_option_name_has_one_meaning_across_commands():
    helps: dict[str, set[str]] = {}
    for _, name, help_text in options():
        helps.setdefault(name, set()).add(help_text)
    # --month and --model are shared on purpose: the same help wherever they appear
    assert len(helps["--month"]) == 1 and len(helps["--model"]) == 1
    assert "--output" not in helps, "files are --out, folders --out-dir"


def test_folders_end_in_dir_and_out_is_always_a_file():
    for command, name, help_text in options():
        if name == "--out":
            assert "folder" not in help_text.lower(), (command, help_text)
        if help_text.lower().startswith(("folder", "where")):
            assert name.endswith("-dir"), (command, name, help_text)


def test_help_does_not_import_spark_or_pandera():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from clm.cli import app\n"
        "for args in (['--help'], ['promote', '--help'], ['score', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0\n"
        "print(sorted(m for m in ('pyspark', 'pandera', 'mlflow') if m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]", run.stdout + run.stderr
    assert "FutureWarning" not in run.stderr


def test_a_command_that_imports_pandera_prints_no_pyspark_pandas_warning(tmp_path):
    # pandera imports pyspark.pandas whenever pyspark is installed; pytest filters its
    # FutureWarning in-process, so this runs the command in a clean interpreter
    command = ["validate", "--params", str(PARAMS.resolve()), "--raw-dir", str(tmp_path)]
    code = f"import sys; from clm.cli import app; sys.argv = ['clm', *{command!r}]; app()"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "subscribers.parquet" in run.stderr and "Warning" not in run.stderr, run.stderr
