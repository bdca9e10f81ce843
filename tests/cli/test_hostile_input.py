"""Hostile command-line, environment and config.toml input: a clear error, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetprompt_cli.errors import ExitCode
from tests.helpers import publish_all, run_cli, write_package

HUGE = "1." + "9" * 5000


def error_of(*args: str, code: int, env: dict[str, str] | None = None) -> str:
    result = run_cli(*args, "--json", env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    doc = json.loads(result.stdout)
    assert doc["kind"] == "error"
    return doc["error"]["message"]


def test_show_understands_or_refuses_what_it_is_given():
    doc = json.loads(run_cli("show", "core-skills==1.2.0", "--json").stdout)
    assert doc["package"]["version"] == "1.2.0"
    assert "invalid version 'abc'" in error_of("show", "core-skills@abc", code=ExitCode.USAGE)
    for spec in ("@@", "core-skills>=1", "core-skills@", "", "../x"):
        assert "SLUG@VERSION" in error_of("show", spec, code=ExitCode.USAGE), spec


@pytest.mark.parametrize("command", ["resolve", "install"])
def test_a_huge_version_in_a_requirement_is_a_usage_error(command):
    extra = ["--dry-run"] if command == "install" else []
    for spec in (f"core-skills=={HUGE}", f"core-skills>={'9' * 70}", f"core-skills@{HUGE}"):
        message = error_of(command, spec, *extra, code=ExitCode.USAGE)
        assert "longer than" in message


def test_yank_with_an_invalid_version_or_slug(tmp_path: Path):
    index = tmp_path / "index"
    publish_all(index, write_package(tmp_path / "src", "x", "1.0.0"))
    assert "invalid version 'abc'" in error_of(
        "yank", "x", "abc", "--index", str(index), code=ExitCode.USAGE
    )
    assert "invalid package name" in error_of(
        "yank", "../../x", "1.0", "--index", str(index), code=ExitCode.USAGE
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("indexes = 5", "'indexes' must be a list"),
        ('indexes = [{name = "x"}]', "'indexes' must be a list"),
        ('platform_version = "abc"', "'platform_version': 'abc' is not a PEP 440 version"),
        ("index_max_age = nan", "'index_max_age' must be a number"),
        ("tenant = 5", "'tenant' must be a string"),
    ],
)
def test_a_config_file_with_wrong_types_is_one_clear_error(isolated_home, content, expected):
    (isolated_home / "config.toml").write_text(content + "\n")
    message = error_of("search", "x", code=ExitCode.INVALID)
    assert "config.toml" in message and expected in message


def test_an_invalid_platform_version_in_the_environment():
    message = error_of(
        "resolve",
        "core-skills",
        code=ExitCode.INVALID,
        env={"FLEETPROMPT_PLATFORM_VERSION": "abc"},
    )
    assert message.startswith("FLEETPROMPT_PLATFORM_VERSION: 'abc'")


def test_fleetprompt_index_errors_name_the_real_problem(tmp_path: Path):
    file = tmp_path / "file.txt"
    file.write_text("x")
    cases = {
        str(file): "is a file, not a folder",
        str(tmp_path / "missing"): "does not exist",
        str(tmp_path): "not a fleetprompt index",
        (tmp_path / "gone.git").as_uri(): "cannot fetch",
        "--upload-pack=touch owned;.git": "must not start with '-'",
    }
    for url, expected in cases.items():
        message = error_of("search", "x", code=ExitCode.FAILURE, env={"FLEETPROMPT_INDEX": url})
        assert "(from FLEETPROMPT_INDEX)" in message and expected in message, (url, message)
    assert not Path("owned").exists()


def test_a_file_url_to_a_plain_folder_index_is_read_as_a_folder(tmp_path: Path):
    index = tmp_path / "index"
    publish_all(index, write_package(tmp_path / "src", "x", "1.0.0"))
    result = run_cli("show", "x", "--json", env={"FLEETPROMPT_INDEX": index.as_uri()})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["package"]["slug"] == "x"
