"""registry_index/ is what publishing manifests/ gives (reproducibly)."""

from __future__ import annotations

from pathlib import Path

from fleetprompt_cli.core.index import LocalIndex
from tests.helpers import run_cli

ROOT = Path(__file__).parents[2]


def _entries(index: LocalIndex) -> dict[tuple[str, str], tuple[str, bool]]:
    result = {}
    for path, _ in index.package_files():
        entries, problems = index.read_file(path)
        assert not problems
        for entry in entries:
            result[(entry.slug, entry.version)] = (entry.sha256, entry.yanked)
    return result


def test_bundled_index_matches_a_fresh_publish_of_the_manifests(tmp_path: Path):
    folders = sorted(str(p.parent) for p in (ROOT / "manifests").rglob("fleetprompt.toml"))
    fresh = tmp_path / "index"
    result = run_cli("publish", *folders, "--index", str(fresh))
    assert result.exit_code == 0, result.stderr
    bundled = _entries(LocalIndex(ROOT / "registry_index"))
    rebuilt = _entries(LocalIndex(fresh))
    yanked = {
        tuple(line.split())
        for line in (ROOT / "manifests" / "YANKED").read_text().splitlines()
        if line.strip()
    }
    assert {k: v[0] for k, v in bundled.items()} == {k: v[0] for k, v in rebuilt.items()}, (
        "registry_index/ is stale: run bash scripts/build-registry-index.sh"
    )
    assert {k for k, v in bundled.items() if v[1]} == yanked
