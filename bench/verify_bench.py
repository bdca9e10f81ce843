"""`fleetprompt index verify` on the search benchmark's index (10,000 x 5), signed.

Generates the index with gen_index.py, then gives every version a small
archive (its sha256 and size written into the line), signs every line with
one publisher key (release records in signatures/, the key in keys/), and
commits it all to a git repository reached by file://.  Times, whole
process, in a fresh home: `index verify` (clone, lines, archives,
signatures, git history) and, as the peer figure from the same run, the
first full `index update` of the same index.  Goal: verify under 30 s.
Usage: .venv/bin/python bench/verify_bench.py [--packages N] [--versions V]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import BIN
from gen_index import generate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fleetprompt_cli.core import signing
from fleetprompt_cli.core.index import package_path


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def sign_index(root: Path, slugs: list[str]) -> int:
    """Archives, sha256s and release signatures for every line; returns the count."""
    private = signing.load_private_key(signing.generate_private_key())
    public = signing.public_key_of(private)
    kid = signing.key_id(public)
    record = {
        "schema": 1,
        "identity": "bench",
        "key": base64.b64encode(public).decode(),
        "id": kid,
        "signed_by": kid,
        "added_at": "2026-11-01T00:00:00Z",
    }
    record["signature"] = signing.sign(private, signing.key_payload(record))
    (root / "keys").mkdir()
    (root / "keys" / "bench").write_text(json.dumps(record, sort_keys=True) + "\n")
    count = 0
    for slug in slugs:
        path = root / "packages" / package_path(slug)
        lines, sigs = [], []
        for line in path.read_text().splitlines():
            data = json.loads(line)
            body = f"{slug} {data['version']}\n".encode() * 8
            archive = root / data["archive"]
            archive.parent.mkdir(parents=True, exist_ok=True)
            archive.write_bytes(body)
            data["sha256"] = hashlib.sha256(body).hexdigest()
            data["size"] = len(body)
            lines.append(json.dumps(data, sort_keys=True, separators=(",", ":")))
            sig = {
                "schema": 1,
                "kind": "release",
                "slug": slug,
                "version": data["version"],
                "identity": "bench",
                "key": kid,
                "signed_at": "2026-11-01T00:00:00Z",
                "signature": signing.sign(private, signing.release_payload(data)),
            }
            sigs.append(json.dumps(sig, sort_keys=True, separators=(",", ":")))
            count += 1
        path.write_text("\n".join(lines) + "\n")
        target = root / "signatures" / package_path(slug)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(sigs) + "\n")
    return count


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 6):
        raise SystemExit(f"{cmd} failed ({done.returncode}): {done.stderr[-500:]}")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "index"
        started = time.perf_counter()
        slugs = generate(repo, args.packages, args.versions, seed=7)
        versions = sign_index(repo, slugs)
        git("init", "--quiet", "--initial-branch=main", cwd=repo)
        git("add", "-A", cwd=repo)
        git("commit", "--quiet", "-m", "index", cwd=repo)
        print(
            f"built a signed index of {len(slugs)} packages, {versions} versions "
            f"in {time.perf_counter() - started:.1f} s"
        )
        cli = str(BIN / "fleetprompt")
        env = {**os.environ, "NO_COLOR": "1", "FLEETPROMPT_HOME": str(Path(tmp) / "home1")}
        env["FLEETPROMPT_INDEX"] = repo.as_uri()
        seconds, out = timed([cli, "index", "verify", "--json"], env)
        doc = json.loads(out)
        print(
            f"index verify (clone + check): {seconds:6.2f} s  "
            f"{doc['versions']} versions, {doc['signed']} signed, "
            f"{doc['archives_checked']} archives, {doc['commits_checked']} commits, "
            f"{len(doc['violations'])} violations"
        )
        again, _ = timed([cli, "index", "verify", "--json"], env)
        print(f"index verify (again, clone kept): {again:6.2f} s")
        env["FLEETPROMPT_HOME"] = str(Path(tmp) / "home2")
        peer, _ = timed([cli, "index", "update", "--json"], env)
        print(f"peer: first index update of the same index: {peer:6.2f} s")
        print(f"goal: verify under 30 s -> {'met' if seconds < 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
