"""Text from indexes, reviews and actors reaches the terminal inert.

The index here is hand-edited, as a hostile co-writer of a git index would
do: every field a person shows carries escape sequences (OSC 0 window title,
OSC 52 clipboard, CSI 2J clear screen, a C1 CSI, a right-to-left override)
and rich markup.  Whatever prints it must show the characters, never act on
them; ``--json`` keeps the original text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import publish_all, run_cli, write_package

OSC_TITLE = "\x1b]0;pwned\x07"
OSC_CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsfHNo\x07"
CLEAR = "\x1b[2J"
C1_CSI = "\x9b31m"
RLO = "\u202e"
LINK = "[link=https://evil.example]https://good.example[/link]"
NASTY = f"{OSC_TITLE}{CLEAR}{C1_CSI}{RLO}"

# Characters no terminal output of ours may contain (newline and tab are fine).
FORBIDDEN = {chr(c) for c in range(0x20) if chr(c) not in "\n\t"}
FORBIDDEN |= {chr(c) for c in range(0x7F, 0xA0)}
FORBIDDEN |= {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def assert_inert(text: str) -> None:
    bad = sorted({f"U+{ord(c):04X}" for c in text if c in FORBIDDEN})
    assert not bad, (bad, text[:2000])
    # Markup was shown, not parsed: the link text is not the only thing left.
    assert "https://evil.example" not in text or "[link=" in text


def test_inert_makes_controls_visible_and_keeps_newlines():
    from fleetprompt_cli.cli.formats import inert

    assert inert("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert inert("\x9b") == "\\x9b"
    assert inert("x\u202ey") == "x\\u202ey"
    assert inert("line\n\tnext") == "line\n\tnext"
    assert inert("plain ★ text") == "plain ★ text"
    # Idempotent: nothing of what it writes is a control character.
    assert inert(inert(NASTY)) == inert(NASTY)


@pytest.fixture
def hostile_index(tmp_path: Path, monkeypatch, isolated_home) -> Path:
    # The line's text holds a bidi override: the default policy would refuse
    # to install it (hidden_unicode); these tests are about rendering it.
    (isolated_home / "config.toml").write_text('[policy]\nhidden_unicode = "allow"\n')
    folder = write_package(
        tmp_path / "src",
        "evil-pkg",
        "1.0.0",
        skills=["s1"],
        agents={"Bot": ["s1"]},
        config={"region": {"type": "string", "default": "us"}},
    )
    index = tmp_path / "index"
    index.mkdir()
    publish_all(index, folder)
    path = index / "packages" / "ev" / "il" / "evil-pkg"
    line = json.loads(path.read_text())
    for key in ("name", "description", "author", "license"):
        line[key] = f"{key} {NASTY} {LINK}"
    line["includes"]["agents"][0]["name"] = f"Bot{CLEAR}"
    line["includes"]["skills"][0]["description"] = f"skill {OSC_CLIPBOARD}"
    meta = line["manifest"]["package"]
    meta.update({k: line[k] for k in ("name", "description", "author", "license")})
    meta["author_url"] = LINK
    meta["long_description"] = f"Docs {CLEAR} [good.example](https://evil.example)"
    line["manifest"]["config"] = {
        f"region{OSC_TITLE}": {"type": "string", "default": f"us{CLEAR}", "required": False}
    }
    path.write_text(json.dumps(line) + "\n")
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(index))
    return index


def test_show_and_search_render_index_text_inert(hostile_index):
    result = run_cli("show", "evil-pkg")
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stdout)
    # The escapes are visible, so a person can see something is off.
    assert "\\x1b]0;pwned" in result.stdout and "\\u202e" in result.stdout
    assert LINK in result.stdout  # markup shown as written
    assert "good.example (https://evil.example)" in result.stdout  # no disguised link
    result = run_cli("search", "evil")
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stdout + result.stderr)
    assert "\\x1b[2J" in result.stdout


def test_json_keeps_the_original_text_escaped_for_the_terminal(hostile_index):
    result = run_cli("show", "evil-pkg", "--json")
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stdout)  # C1 and bidi are \\u escapes in the JSON text
    package = json.loads(result.stdout)["package"]
    assert package["description"] == f"description {NASTY} {LINK}"
    assert package["author_url"] == LINK


def test_install_dry_run_renders_inert(hostile_index):
    result = run_cli("install", "evil-pkg", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stdout + result.stderr)
    assert "Bot\\x1b[2J" in result.stdout


@pytest.fixture
def backend(store_url, monkeypatch):
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    return store_url


def test_reviews_and_actor_names_render_inert(backend, hostile_index, monkeypatch):
    actor = f"mallory{OSC_TITLE}[/]{RLO}"
    monkeypatch.setenv("FLEETPROMPT_ACTOR", actor)
    assert run_cli("install", "evil-pkg", "--yes").exit_code == 0
    result = run_cli(
        "reviews", "add", "evil-pkg", "-r", "5", "--title", f"Great{CLEAR}", "--text", LINK
    )
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stdout + result.stderr)
    for args in (
        ("reviews", "list", "evil-pkg"),
        ("show", "evil-pkg"),
        ("history",),
        ("history", "--transitions"),
        ("directives", "list"),
        ("status",),
        ("status", "evil-pkg"),
        ("list",),
    ):
        result = run_cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
        assert_inert(result.stdout + result.stderr)
    assert LINK in run_cli("reviews", "list", "evil-pkg").stdout
    # Stored as given: --json gives the actor and the title back unchanged.
    doc = json.loads(run_cli("reviews", "list", "evil-pkg", "--json").stdout)
    assert doc["reviews"][0]["actor"] == actor
    assert doc["reviews"][0]["title"] == f"Great{CLEAR}"


def test_markup_in_an_actor_name_does_not_break_the_audit_log(backend, fx_index, monkeypatch):
    """Item 9: after FLEETPROMPT_ACTOR='[/]', history and directives list kept failing."""
    monkeypatch.setenv("FLEETPROMPT_INDEX", str(fx_index))
    for actor in ("[/]", "[bold]x[/bold", "[link=https://evil.example]ok[/link]"):
        monkeypatch.setenv("FLEETPROMPT_ACTOR", actor)
        assert run_cli("install", "fx-base", "--yes").exit_code == 0
        assert run_cli("uninstall", "fx-base", "--yes").exit_code == 0
    monkeypatch.delenv("FLEETPROMPT_ACTOR")
    result = run_cli("history")
    assert result.exit_code == 0, result.stderr
    assert "by [/]" in result.stdout and "[bold]x[/bold" in result.stdout
    result = run_cli("directives", "list")
    assert result.exit_code == 0, result.stderr
    assert "[/]" in result.stdout


def test_markup_in_an_index_url_is_not_parsed(tmp_path: Path):
    # The "Fetching URL…" status line read the URL as rich markup (MarkupError).
    url = f"file://{tmp_path}/no-such-index-[/]"
    result = run_cli("index", "add", "odd", url)
    assert result.exit_code != 0
    assert "MarkupError" not in result.output
    assert "[/]" in result.stderr
