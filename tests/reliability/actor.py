"""One of the concurrent processes: ``python -m tests.reliability.actor COMMANDS_JSON``.

Says ``ready`` once imported, waits for a line on stdin (the test starts
every actor at the same moment this way, without sleeping), then runs each
command in-process and prints one JSON line per command: its arguments,
exit code, stderr, and the refusals it met first.

A command refused because another directive of the tenant changed its
basis meanwhile (exit 11, "another directive is changing ...": submits of
one tenant are serialised and a plan made against an older state is
refused, changing nothing) is run again, as the message tells a person to.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    commands = json.loads(sys.argv[1])
    from tests.helpers import run_cli

    print("ready", flush=True)
    sys.stdin.readline()
    for args in commands:
        refusals: list[str] = []
        while True:
            result = run_cli(*args)
            busy = result.exit_code == 11 and "another directive is changing" in result.stderr
            if not busy or len(refusals) >= 200:
                break
            refusals.append(result.stderr)
        line = {
            "args": args,
            "code": result.exit_code,
            "stderr": result.stderr,
            "refusals": refusals,
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
