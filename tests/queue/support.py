"""Shared by the install, fault and worker tests: a small index and tenant snapshots.

``build_index`` publishes three packages that depend on each other
(``fx-base`` <- ``fx-mid`` <- ``fx-top``, so installing ``fx-top`` is a
three-step directive, dependencies first) plus a few for the error cases
(``wants-v2`` needs ``fx-base>=2`` while ``fx-mid`` needs ``<2``: a conflict).
``snapshot`` reads everything a tenant has in the state store (numbered
revisions included) as plain,
comparable data (no ids, no timestamps), so a recovered tenant can be
compared with a tenant that installed cleanly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers import publish_all, write_package

__all__ = [
    "FX",
    "build_index",
    "index_line",
    "leftovers",
    "replace_archive",
    "snapshot",
    "store_for",
]

# The three-step directive: plan order is dependencies first.
FX = ("fx-base", "fx-mid", "fx-top")


def build_index(root: Path) -> Path:
    """Write the test packages under ``root/src`` and publish them into ``root/index``."""
    src, index = root / "src", root / "index"
    folders = [
        write_package(src, "fx-base", "1.0.0", skills=["geo", "summarize"]),
        write_package(src, "fx-base", "2.0.0", skills=["geo"]),
        write_package(
            src,
            "fx-mid",
            "1.0.0",
            deps={"fx-base": ">=1,<2"},
            skills=["route"],
            agents={"Router": ["route", "fx-base:geo"]},
        ),
        write_package(
            src,
            "fx-top",
            "1.0.0",
            deps={"fx-mid": ">=1"},
            agents={"Dispatcher": ["fx-mid:route"]},
            workflows=[{"name": "Dispatch", "steps": ["Dispatcher"]}],
            tools=[{"name": "parts-catalog"}],
        ),
        write_package(src, "pro-pack", "1.0.0", skills=["premium"], package={"min_tier": "pro"}),
        write_package(
            src,
            "needs-config",
            "1.0.0",
            skills=["cfg"],
            config={
                "region": {"type": "string", "required": True, "choices": ["us", "eu"]},
                "limit": {"type": "integer", "default": 8},
            },
        ),
        write_package(src, "wants-v2", "1.0.0", deps={"fx-base": ">=2"}, skills=["x"]),
    ]
    index.mkdir(parents=True)
    publish_all(index, *folders)
    return index


def index_line(index: Path, slug: str) -> tuple[Path, dict[str, Any]]:
    """The index file of ``slug`` and its (single) version line."""
    path = index / "packages" / slug[:2] / slug[2:4] / slug
    return path, json.loads(path.read_text().splitlines()[0])


def replace_archive(index: Path, slug: str, data: bytes, *, update_sha: bool) -> None:
    """Overwrite ``slug``'s archive; with ``update_sha`` the index line gets its new sha256
    and size (as a publisher of that archive would have written them).

    Call it before the test's home reads the index (its catalog is built then).
    """
    import hashlib

    path, line = index_line(index, slug)
    (index / line["archive"]).write_bytes(data)
    if update_sha:
        line["sha256"] = hashlib.sha256(data).hexdigest()
        line["size"] = len(data)
        rest = path.read_text().splitlines()[1:]
        path.write_text("\n".join([json.dumps(line), *rest]) + "\n")


def store_for(settings: Any = None) -> Any:
    """The state store of the current environment's settings."""
    from fleetprompt_cli.actions.state import open_state
    from fleetprompt_cli.settings import load_settings

    return open_state(settings or load_settings())


def _plain(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def snapshot(tenant: str = "default", *, history: bool = True) -> dict[str, Any]:
    """Everything the store holds for ``tenant``, as comparable plain data.

    ``history=False`` keeps only the live state (installations, resources,
    active install counts), for comparisons where the way there differs.
    """
    from fleetprompt_cli.settings import load_settings
    from fleetprompt_cli.store import repository as repo
    from fleetprompt_cli.store.stats_reader import read_stats

    url = load_settings().database_url
    store = store_for()
    try:
        with store.session(readonly=True) as s:
            record = repo.get_tenant(s, tenant)
            rows = repo.list_installations(s, record.id, include_finished=True)
            slug_of = {i.id: i.slug for i in rows}
            live = [i for i in rows if i.status not in ("uninstalled", "cancelled")]
            data: dict[str, Any] = {
                "installations": sorted(
                    (
                        i.slug,
                        i.version,
                        i.status,
                        i.requested,
                        _plain(i.config),
                        i.pending_version,
                        i.revision,
                    )
                    for i in live
                ),
                "resources": sorted(
                    (slug_of[r.installation_id], r.kind, r.name, _plain(r.definition), r.content)
                    for r in repo.list_resources(s, record.id)
                ),
                "active": {
                    slug: stats.active_install_count
                    for slug, stats in read_stats(url, [i.slug for i in live]).items()
                },
            }
            if history:
                revisions: dict[str, list] = {}
                for r in repo.list_revisions(s, record.id):
                    revisions.setdefault(slug_of[r.installation_id], []).append(
                        (r.transition, r.from_status, r.to_status, r.from_version, r.to_version)
                    )
                releases = {
                    slug: [
                        (
                            r.number,
                            r.action,
                            r.status,
                            r.version,
                            r.previous_version,
                            r.rollback_to,
                            _plain(r.config),
                            _plain(r.resources),
                            r.sha256,
                            r.error,
                        )
                        for r in repo.list_releases(s, record.id, slug)
                    ]
                    for slug in sorted(set(slug_of.values()))
                }
                signals = repo.list_signals(s, record.id)
                directives = repo.list_directives(s, record.id)
                data.update(
                    finished=sorted((i.slug, i.status) for i in rows if i not in live),
                    revisions=revisions,
                    releases=releases,
                    actors=sorted({r.actor for r in repo.list_revisions(s, record.id)}),
                    sequences=[x.sequence for x in signals],
                    signals=[(x.type, x.subject, _plain(x.data)) for x in signals],
                    directives=[
                        (
                            d.kind,
                            d.status,
                            d.error,
                            d.lease_owner,
                            [
                                (x.slug, x.action, x.status)
                                for x in repo.list_steps(s, record.id, d.id)
                            ],
                        )
                        for d in directives
                    ],
                    installs={
                        slug: stats.install_count
                        for slug, stats in read_stats(url, [i.slug for i in live]).items()
                    },
                )
    finally:
        store.dispose()
    return data


def leftovers(home: Path) -> list[str]:
    """Temporary files or folders a crash left in the archive cache or package folders."""
    found = []
    for folder in (home / "packages", home / "cache" / "archives"):
        if folder.is_dir():
            found += [str(p) for p in folder.rglob(".*")]
    return found
