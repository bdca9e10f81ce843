"""The console every command prints with: whatever it renders is inert.

Package names, descriptions, authors, review texts, actor names and config
keys come from indexes, manifests and other people.  Two things make such
text dangerous on a terminal, and both are handled here, once, for every
renderer (tables, the detail page, plans, history, messages):

- **markup**: the console parses no rich markup (``markup=False``, and no
  ``:emoji:`` codes), so ``[link=https://evil.example]...`` in an
  ``author_url`` is shown as those characters, not as a disguised link.
  Our own styles are ``Text`` styles, never markup built from data.
- **control characters**: :meth:`InertConsole.render` passes every segment's
  text through :func:`~fleetprompt_cli.cli.formats.inert` (ESC shows as
  ``\\x1b``, a right-to-left override as ``\\u202e``).  rich's own control
  segments (cursor movement for the spinner) and the colour codes it adds
  when writing are not text segments, so they still work.

Values are stored as given, and ``--json`` prints them unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

from fleetprompt_cli.cli.formats import inert

__all__ = ["InertConsole"]


class InertConsole(Console):
    """A rich console that never lets rendered text act on the terminal."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        kwargs.setdefault("emoji", False)
        super().__init__(**kwargs)

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        # rich renders nested renderables through this method too; inert()
        # is idempotent and does nothing to text without control characters.
        for segment in super().render(renderable, options):
            if segment.control or not segment.text:
                yield segment
            else:
                text = inert(segment.text)
                yield segment if text is segment.text else Segment(text, segment.style)
