"""Plain-text formats shared by several commands (no rich import here).

Config values are shown as they are written in a manifest or on the command
line (TOML/JSON literals: ``true``, ``"us"``, ``["hvac", "plumbing"]``), never
as Python reprs.

Text that comes from outside (an index, a manifest, a review, an actor name)
is shown through :func:`inert`: every console the CLI prints with applies it
to everything it renders (``cli/terminal.py``), so an escape sequence in a
package description cannot clear the screen, set the window title or write
the clipboard.

The statuses' styles and the timestamp formats are here too, so that every
table and page shows a status in the same colour and a time the same way.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "PROGRESS_STYLES",
    "SHORT_TIME_FORMAT",
    "STATUS_STYLES",
    "TIME_FORMAT",
    "change_text",
    "config_value",
    "inert",
    "json_inert",
    "when",
]

# rich style names for the statuses of installations, directives and steps
# (core/vocab.py lists them); a status not here is shown unstyled.
STATUS_STYLES: dict[str, str] = {
    # installations
    "active": "green",
    "paused": "yellow",
    "failed": "red",
    "queued": "dim",
    "installing": "yellow",
    "upgrading": "yellow",
    "uninstalling": "yellow",
    "uninstalled": "dim",
    "cancelled": "dim",
    # directives and steps
    "succeeded": "green",
    "done": "green",
    "running": "yellow",
    "pending": "dim",
    "undone": "magenta",
    # numbered revisions (history SLUG)
    "deployed": "green",
    "superseded": "dim",
}
# A progress display follows a change as it happens: there an uninstall that
# finished is a success, and a step may be retried.
PROGRESS_STYLES: dict[str, str] = {**STATUS_STYLES, "uninstalled": "green", "retrying": "yellow"}

# Times are UTC: to the second on detail pages, history and signals, to the
# minute in the tables that list many rows.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
SHORT_TIME_FORMAT = "%Y-%m-%d %H:%M"

# C0 controls but newline and tab, DEL, C1 controls, and the bidirectional
# embeddings, overrides and isolates of "Trojan Source" (CVE-2021-42574).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What JSON may carry raw but a terminal would still act on (C0 is escaped by json).
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str) -> str:
    """``text`` safe to show on a terminal: control characters made visible.

    ESC becomes the four characters ``\\x1b``, a C1 CSI ``\\x9b``, a
    right-to-left override ``\\u202e`` (Python's escape spelling, so what was
    there can be read off the screen); newline and tab are kept.
    """
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def json_inert(document: str) -> str:
    """A JSON text with C1 and bidi characters written as ``\\uXXXX`` escapes.

    The decoded strings are unchanged (``--json`` keeps the original text);
    only a terminal the document is printed on no longer acts on them.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", document)


def when(value: datetime | None, *, short: bool = False) -> str:
    """A timestamp as tables and pages show it (UTC); ``""`` for none."""
    if value is None:
        return ""
    return value.strftime(SHORT_TIME_FORMAT if short else TIME_FORMAT)


def config_value(value: Any) -> str:
    """A config value as a TOML/JSON literal; ``-`` for none."""
    if value is None:
        return "-"
    return json.dumps(value, ensure_ascii=False, default=str)


def change_text(
    from_status: str | None,
    to_status: str,
    from_version: str | None,
    to_version: str | None,
) -> str:
    """``queued → installing  1.0.0`` or ``active → upgrading  1.0.0 → 2.0.0``.

    A transition out of nothing (a plan) shows just the new status; the
    version part is the version when it did not change, or old → new.
    """
    text = f"{from_status} → {to_status}" if from_status else to_status
    if from_version and to_version and from_version != to_version:
        return f"{text}  {from_version} → {to_version}"
    version = to_version or from_version
    return f"{text}  {version}" if version else text
