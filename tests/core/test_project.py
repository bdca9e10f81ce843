"""The project file: parsing, every bad input, and the requires-hash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fleetprompt_cli.core.project import load_project, parse_project
from fleetprompt_cli.errors import ExitCode, InvalidInput

GOOD = """\
schema_version = 1
[project]
tenant = "acme"                 # default tenant for sync

[requires]
Customer_Support = ">=2"
knowledge-base = ""

[config.customer-support]
default_language = "de"
channels = ["email", "chat"]
"""


def _error(text: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_project(text, "p.toml")
    assert caught.value.exit_code == ExitCode.INVALID
    return str(caught.value)


def test_a_project_file_parses_with_canonical_slugs():
    project = parse_project(GOOD)
    assert project.tenant == "acme"
    assert project.requires == {"customer-support": ">=2", "knowledge-base": ""}
    assert project.config == {
        "customer-support": {"default_language": "de", "channels": ["email", "chat"]}
    }
    assert [str(r) for r in project.requirements()] == ["customer-support>=2", "knowledge-base"]


def test_requires_hash_ignores_formatting_order_comments_and_tenant():
    reordered = """\
# a comment
schema_version = 1
[config.customer-support]
channels = [ "email", "chat" ]
default_language = 'de'
[requires]
knowledge-base = ""
customer-support = ">= 2"
[project]
tenant = "other"
"""
    assert parse_project(GOOD).requires_hash() == parse_project(reordered).requires_hash()
    spec_order = parse_project('schema_version = 1\n[requires]\na = ">=1,<2"\n')
    assert (
        spec_order.requires_hash()
        == parse_project('schema_version = 1\n[requires]\na = "<2,>=1"\n').requires_hash()
    )


@pytest.mark.parametrize(
    "change",
    [
        ('Customer_Support = ">=2"', 'Customer_Support = ">=3"'),
        ('knowledge-base = ""\n', ""),
        ('default_language = "de"', 'default_language = "en"'),
        ('channels = ["email", "chat"]', 'channels = ["chat", "email"]'),
    ],
)
def test_requires_hash_changes_with_what_the_lock_depends_on(change):
    changed = GOOD.replace(*change)
    assert changed != GOOD
    assert parse_project(changed).requires_hash() != parse_project(GOOD).requires_hash()


def test_every_problem_is_reported_with_its_field():
    message = _error(
        """\
schema_version = 1
colour = "blue"
[project]
tenant = ""
owner = "me"
[requires]
"bad slug!" = ">=1"
good = 5
other = ">>1"
[config.good]
ratio = nan
nested = [[1]]
when = 1979-05-27
"""
    )
    for fragment in (
        "colour: unknown key",
        "project.owner: unknown key",
        "project.tenant: must be a non-empty string",
        "requires.'bad slug!': not a package slug",
        "requires.good: must be a string",
        "requires.other: invalid version specifier '>>1'",
        "config.good.ratio: must be a finite number",
        "config.good.nested: in a list: lists inside lists",
        "config.good.when: a date is not a config value",
    ):
        assert fragment in message, message
    assert message.startswith("p.toml: 9 problems:")


def test_syntax_errors_name_the_line():
    assert "line 2" in _error("schema_version = 1\n[requires\n")


def test_schema_version_must_be_an_integer_and_not_from_the_future():
    assert "schema_version: must be an integer" in _error('schema_version = "1"\n')
    assert "schema_version: missing" in _error("[requires]\n")
    assert "upgrade fleetprompt" in _error("schema_version = 2\n")


def test_a_slug_named_twice_is_refused():
    assert "names a-b a second time" in _error(
        'schema_version = 1\n[requires]\n"a-b" = ""\n"A_B" = ">=1"\n'
    )


def test_deep_nesting_is_an_error_not_a_crash():
    assert "p.toml" in _error("x = " + "[" * 50_000 + "]" * 50_000 + "\n")


def test_files_bom_size_and_kind(tmp_path: Path):
    path = tmp_path / "fleetprompt.project.toml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert load_project(path).tenant == "acme"
    path.write_bytes(b"schema_version = 1\n# " + b"x" * (1 << 20) + b"\n")
    with pytest.raises(InvalidInput, match="larger than"):
        load_project(path)
    path.write_bytes(b"schema_version = 1\n\xff\n")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        load_project(path)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInput, match="not a regular file"):
        load_project(fifo)  # refused at once: no writer, no hang
    with pytest.raises(FileNotFoundError):
        load_project(tmp_path / "missing.toml")
