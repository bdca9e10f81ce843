"""The contracts in docs/ say what the code does (the tables that can drift)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fleetprompt_cli.core import lifecycle, vocab

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _tables(name: str) -> list[list[list[str]]]:
    """Every table of a document: rows of cells, header and rule dropped."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*(DOCS / name).read_text("utf-8").splitlines(), ""]:
        if line.startswith("|"):
            current.append([cell.strip() for cell in line.strip("|").split("|")])
        elif current:
            tables.append(current[2:])
            current = []
    return tables


def _words(cell: str) -> list[str]:
    return re.findall(r"[a-z_]+", cell)


def _first(cell: str) -> str:
    return _words(cell)[0] if _words(cell) else ""


def _table_with(name: str, header_first_rows: list[str]) -> list[list[str]]:
    for table in _tables(name):
        if [_first(row[0]) for row in table] == header_first_rows:
            return table
    raise AssertionError(f"{name}: no table listing exactly {header_first_rows}")


@pytest.mark.parametrize(
    "statuses",
    [
        vocab.INSTALLATION_STATUSES,
        vocab.DIRECTIVE_STATUSES,
        vocab.STEP_STATUSES,
        vocab.RELEASE_STATUSES,
    ],
    ids=["installation", "directive", "step", "revision"],
)
def test_state_machine_lists_every_status(statuses):
    _table_with("state-machine.md", list(statuses))


def test_state_machine_transitions_match_lifecycle():
    table = _table_with("state-machine.md", list(lifecycle.TRANSITIONS))
    for row in table:
        name = _first(row[0])
        assert tuple(_words(row[1])) == lifecycle.TRANSITIONS[name].sources, name
        target = lifecycle.TRANSITIONS[name].target
        if target != lifecycle.PREVIOUS:
            assert _words(row[2])[0] == target, name
        else:
            assert set(lifecycle.TRANSITIONS[name].returns_to) <= set(_words(row[2])), name


def test_manifest_reference_lists_the_words():
    text = (DOCS / "manifest.md").read_text("utf-8")
    assert "|".join(vocab.CATEGORIES) in text
    assert "|".join(vocab.TIERS) in text
    assert "|".join(vocab.PRICING_MODELS) in text


@pytest.mark.parametrize(
    "document",
    ["README.md", "CONTRIBUTING.md", *(f"docs/{p.name}" for p in sorted(DOCS.glob("*.md")))],
)
def test_links_to_docs_resolve(document):
    path = ROOT / document
    for target in re.findall(r"\]\(([^)#]+\.md)\)", path.read_text("utf-8")):
        if "://" not in target:
            assert (path.parent / target).is_file(), f"{document} links to missing {target}"


def test_every_contract_is_linked_from_readme_and_contributing():
    for document in ("README.md", "CONTRIBUTING.md"):
        text = (ROOT / document).read_text("utf-8")
        for doc in sorted(DOCS.glob("*.md")):
            assert f"docs/{doc.name}" in text, f"{document} does not link docs/{doc.name}"


def test_step_moves_match_the_store():
    from fleetprompt_cli.core.lifecycle import STEP_MOVES as moves

    tables = [t for t in _tables("state-machine.md") if [_first(r[0]) for r in t] == list(moves)]
    assert len(tables) == 2, "a table of step statuses and one of their moves"
    for row in tables[1]:
        status = _first(row[0])
        documented = {word for word in _words(row[1]) if word in vocab.STEP_STATUSES}
        assert documented == set(moves[status]), status
