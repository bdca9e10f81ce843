"""Content audit: characters that hide instructions from a human reviewer.

What a package installs is text a model obeys (system prompts, skill
instructions, workflow steps).  A reviewer reads that text on a screen, so
anything that renders differently from what the model receives is a
supply-chain risk.  This module finds, in pure Python (no I/O):

- ``FPA001`` **tag characters** (U+E0000-U+E007F): invisible, yet each one
  maps to an ASCII character; a run of them spells a hidden instruction,
  which the finding decodes into its message.  Severity error.
- ``FPA002`` **bidi controls**: embeddings and overrides (U+202A-U+202E) and
  isolates (U+2066-U+2069) reorder what is shown ("Trojan Source").
  Severity error.
- ``FPA003`` **invisible format characters**: every other character of
  Unicode category Cf (zero-width space/non-joiner/joiner U+200B-U+200D,
  word joiner U+2060, U+FEFF anywhere but the very start, soft hyphen
  U+00AD, ...).  Severity warning.
- ``FPA004`` **mixed-script words**: a word whose letters come from two of
  Latin, Cyrillic and Greek (the scripts with look-alike letters), e.g. a
  Latin name with a Cyrillic "а" in it.  The script of a letter is the first
  word of its Unicode name.  Other scripts (CJK, Arabic, ...) are never
  flagged, so text in any language is fine.  Severity warning.
- ``FPA005`` **drift** (raised by the audit action, not by the scanner): the
  stored content of an installed resource no longer matches the archive it
  came from.  Severity error.

Lines and columns are 1-based; columns count Unicode code points.  Text
that is pure ASCII is skipped in one cheap check.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "BIDI",
    "DRIFT",
    "ERROR",
    "INVISIBLE",
    "MIXED_SCRIPT",
    "RULES",
    "SARIF_SCHEMA",
    "SARIF_VERSION",
    "TAG",
    "WARNING",
    "Finding",
    "Rule",
    "has_errors",
    "scan_manifest_text",
    "scan_text",
    "scan_value",
    "to_sarif",
]

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Rule:
    """One kind of finding: id (SARIF ``ruleId``), short name, severity, help."""

    id: str
    name: str
    severity: str
    description: str


TAG = Rule(
    "FPA001",
    "hidden-tag-characters",
    ERROR,
    "Unicode tag characters (U+E0000-U+E007F) are invisible but spell ASCII text a model reads.",
)
BIDI = Rule(
    "FPA002",
    "bidi-control",
    ERROR,
    "Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) reorder "
    "what a reviewer sees.",
)
INVISIBLE = Rule(
    "FPA003",
    "invisible-character",
    WARNING,
    "Zero-width and other invisible format characters (category Cf) hide text or split words.",
)
MIXED_SCRIPT = Rule(
    "FPA004",
    "mixed-script-word",
    WARNING,
    "A word mixing Latin, Cyrillic or Greek letters looks like another word (homoglyphs).",
)
DRIFT = Rule(
    "FPA005",
    "content-drift",
    ERROR,
    "The stored content of an installed resource differs from the archive it came from.",
)
RULES: tuple[Rule, ...] = (TAG, BIDI, INVISIBLE, MIXED_SCRIPT, DRIFT)

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_TAG_FIRST, _TAG_LAST = 0xE0000, 0xE007F
_BIDI = frozenset([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_BOM = 0xFEFF
_CONFUSABLE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK"})
# Every character that is not printable ASCII or a common whitespace.
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_WORD = re.compile(r"[^\W\d_]{2,}")
# TOML/JSON escapes of a code point (a manifest can spell a character that way).
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})")


@dataclass(frozen=True)
class Finding:
    """One suspicious spot: which rule, where (resource or file, line, column), what."""

    rule: Rule
    message: str
    location: str
    line: int = 1
    column: int = 1
    codepoint: str | None = None
    package: str | None = None
    version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def code(self) -> str:
        return self.rule.id

    @property
    def severity(self) -> str:
        return self.rule.severity

    def located(self, **changes: Any) -> Finding:
        """The same finding with package/version/location filled in."""
        return replace(self, **changes)

    def where(self) -> str:
        """``slug version: location:line:column`` (the package part when known)."""
        prefix = f"{self.package} {self.version}: " if self.package else ""
        return f"{prefix}{self.location}:{self.line}:{self.column}"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.rule.id,
            "rule": self.rule.name,
            "severity": self.rule.severity,
            "message": self.message,
            "package": self.package,
            "version": self.version,
            "location": self.location,
            "line": self.line,
            "column": self.column,
            "codepoint": self.codepoint,
            **self.extra,
        }


def has_errors(findings: Iterable[Finding]) -> bool:
    """Whether any finding has error severity."""
    return any(f.rule.severity == ERROR for f in findings)


def _u(cp: int) -> str:
    return f"U+{cp:04X}"


def _char_name(cp: int) -> str:
    return unicodedata.name(chr(cp), "") or "unnamed"


class _Lines:
    """Offset -> (line, column), 1-based, computed once per text."""

    def __init__(self, text: str) -> None:
        self.starts = [0]
        self.starts.extend(m.end() for m in re.finditer("\n", text))

    def at(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.starts, offset) - 1
        return index + 1, offset - self.starts[index] + 1


def _units(text: str, escapes: bool) -> Iterator[tuple[int, int, int]]:
    """(code point, start offset, end offset) of each non-ASCII character (or escape)."""
    found = [(ord(m.group()), m.start(), m.end()) for m in _NON_ASCII.finditer(text)]
    if escapes and "\\" in text:
        for m in _ESCAPE.finditer(text):
            digits = m.group(1) or m.group(2)
            found.append((int(digits, 16), m.start(), m.end()))
        found.sort(key=lambda unit: unit[1])
    yield from found


def _decode_tags(cps: Sequence[int]) -> str:
    """The ASCII text a run of tag characters spells (non-printing ones as ``\\xNN``)."""
    out = []
    for cp in cps:
        value = cp - _TAG_FIRST
        out.append(chr(value) if 0x20 <= value < 0x7F else f"\\x{value:02x}")
    return "".join(out)


def scan_text(text: str, location: str, *, escapes: bool = False) -> list[Finding]:
    """Every finding in one text; ``location`` names the file or resource field.

    With ``escapes``, ``\\uXXXX``/``\\UXXXXXXXX`` sequences (TOML, JSON) count
    as the characters they spell.
    """
    if text.isascii() and not (escapes and "\\u" in text.lower()):
        return []
    lines = _Lines(text)
    findings: list[Finding] = []
    run: list[int] = []
    run_start = run_end = -1

    def flush() -> None:
        nonlocal run
        if run:
            line, column = lines.at(run_start)
            hidden = _decode_tags(run)
            findings.append(
                Finding(
                    TAG,
                    f"{len(run)} tag character(s) spell hidden text: {hidden!r}",
                    location,
                    line,
                    column,
                    _u(run[0]),
                    extra={"hidden_text": hidden},
                )
            )
            run = []

    for cp, start, end in _units(text, escapes):
        if _TAG_FIRST <= cp <= _TAG_LAST:
            if run and start != run_end:
                flush()
            if not run:
                run_start = start
            run.append(cp)
            run_end = end
            continue
        flush()
        if cp in _BIDI:
            line, column = lines.at(start)
            findings.append(
                Finding(
                    BIDI,
                    f"bidi control {_u(cp)} {_char_name(cp)} reorders the text shown",
                    location,
                    line,
                    column,
                    _u(cp),
                )
            )
        elif unicodedata.category(chr(cp)) == "Cf" and not (cp == _BOM and start == 0):
            line, column = lines.at(start)
            findings.append(
                Finding(
                    INVISIBLE,
                    f"invisible character {_u(cp)} {_char_name(cp)}",
                    location,
                    line,
                    column,
                    _u(cp),
                )
            )
    flush()
    findings.extend(_mixed_words(text, location, lines))
    findings.sort(key=lambda f: (f.line, f.column))
    return findings


def _script(char: str) -> str:
    return unicodedata.name(char, "").split(" ", 1)[0]


def _mixed_words(text: str, location: str, lines: _Lines) -> list[Finding]:
    findings = []
    for m in _WORD.finditer(text):
        word = m.group()
        if word.isascii():
            continue
        scripts: list[str] = []
        for char in word:
            script = _script(char)
            if script in _CONFUSABLE_SCRIPTS and script not in scripts:
                scripts.append(script)
        if len(scripts) < 2:
            continue
        # Point at the first letter that is not of the word's first script.
        offset = next(i for i, c in enumerate(word) if _script(c) in scripts[1:])
        cp = ord(word[offset])
        line, column = lines.at(m.start() + offset)
        findings.append(
            Finding(
                MIXED_SCRIPT,
                f"word {word!r} mixes {' and '.join(s.title() for s in scripts)} letters "
                f"({_u(cp)} {_char_name(cp)})",
                location,
                line,
                column,
                _u(cp),
            )
        )
    return findings


def scan_value(value: Any, location: str) -> list[Finding]:
    """Every finding in the strings of a JSON-like value (a resource's definition).

    Each string's findings name its field: ``location`` then ``.key`` or ``[i]``.
    """
    findings: list[Finding] = []

    def walk(item: Any, where: str) -> None:
        if isinstance(item, str):
            findings.extend(scan_text(item, where))
        elif isinstance(item, Mapping):
            for key, sub in item.items():
                if isinstance(key, str) and not key.isascii():
                    findings.extend(scan_text(key, f"{where} (key)"))
                walk(sub, f"{where}.{key}")
        elif isinstance(item, list | tuple):
            for i, sub in enumerate(item):
                walk(sub, f"{where}[{i}]")

    walk(value, location)
    return findings


def scan_manifest_text(text: str, location: str = "fleetprompt.toml") -> list[Finding]:
    """A manifest's findings: its characters and the ``\\u`` escapes that spell them."""
    return scan_text(text, location, escapes=True)


# -- SARIF ----------------------------------------------------------------------


def _sarif_level(severity: str) -> str:
    return "error" if severity == ERROR else "warning"


def to_sarif(
    findings: Sequence[Finding], *, tool_version: str, uri_of: Any = None
) -> dict[str, Any]:
    """A SARIF 2.1.0 log of the findings (one run, the fleetprompt driver).

    ``uri_of(finding)`` gives each result's artifact URI (default: the
    package and location as ``slug/version/location``).
    """

    def uri(finding: Finding) -> str:
        if uri_of is not None:
            return str(uri_of(finding))
        parts = [p for p in (finding.package, finding.version) if p]
        return "/".join([*parts, finding.location.split(" ", 1)[0]])

    rules = [
        {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.description},
            "defaultConfiguration": {"level": _sarif_level(rule.severity)},
        }
        for rule in RULES
    ]
    index = {rule.id: i for i, rule in enumerate(RULES)}
    results = []
    for finding in findings:
        result: dict[str, Any] = {
            "ruleId": finding.rule.id,
            "ruleIndex": index[finding.rule.id],
            "level": _sarif_level(finding.rule.severity),
            "message": {"text": finding.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(finding)},
                        "region": {"startLine": finding.line, "startColumn": finding.column},
                    },
                    "logicalLocations": [{"fullyQualifiedName": finding.location}],
                }
            ],
        }
        properties = {
            k: v
            for k, v in (
                ("package", finding.package),
                ("version", finding.version),
                ("codepoint", finding.codepoint),
            )
            if v is not None
        }
        if properties:
            result["properties"] = properties
        results.append(result)
    return {
        "version": SARIF_VERSION,
        "$schema": SARIF_SCHEMA,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "fleetprompt",
                        "version": tool_version,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
