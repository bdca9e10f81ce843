"""Entry point: ``fleetprompt`` and ``python -m fleetprompt_cli``."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the CLI; ``--version`` answers before typer is even imported."""
    if sys.argv[1:] == ["--version"]:
        from fleetprompt_cli import PLATFORM_VERSION, __version__

        print(f"fleetprompt {__version__} (platform {PLATFORM_VERSION})")
        return
    from fleetprompt_cli.cli import run

    run()


if __name__ == "__main__":
    main()
