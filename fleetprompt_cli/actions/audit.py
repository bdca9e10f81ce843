"""The content audit of what a tenant has installed, and of a package folder.

``audit_installed`` reads every live installation's resources (their stored
definition and content: prompts, skill files, workflow steps, descriptions)
and runs the scanner of :mod:`fleetprompt_cli.core.audit` over them; with
``drift`` it also compares each installation's resources with the archive its
deployed release came from (the release's recorded sha256, read from the
archive cache), naming every resource that changed, appeared or went missing.

``audit_folder`` scans a package folder (its manifest and every text file),
for ``validate`` and ``publish``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleetprompt_cli.core import audit
from fleetprompt_cli.core.audit import Finding
from fleetprompt_cli.core.names import canonical_slug
from fleetprompt_cli.errors import not_installed

if TYPE_CHECKING:
    from types import ModuleType

    from fleetprompt_cli.actions.source import StateSource
    from fleetprompt_cli.settings import Settings
    from fleetprompt_cli.store.engine import Store

__all__ = [
    "AuditReport",
    "audit_folder",
    "audit_installed",
    "audit_resources",
]

# Files larger than this in a package folder are not read (archives refuse them anyway).
_MAX_FILE = 4 * 1024 * 1024


@dataclass
class AuditReport:
    """Findings over a tenant (or a folder), with what could not be checked."""

    tenant: str | None
    packages: list[dict[str, Any]]
    findings: list[Finding]
    drift: bool = False
    unchecked: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == audit.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == audit.WARNING)

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "packages": self.packages,
            "drift": self.drift,
            "errors": self.errors,
            "warnings": self.warnings,
            "findings": [f.to_json() for f in self.findings],
            "unchecked": self.unchecked,
        }


def _label(kind: str, name: str) -> str:
    return f"{kind}:{name}"


def audit_resources(
    resources: list[dict[str, Any]], *, package: str | None = None, version: str | None = None
) -> list[Finding]:
    """Findings in resources given as ``{kind, name, definition, content}``."""
    findings: list[Finding] = []
    for resource in resources:
        label = _label(resource["kind"], resource["name"])
        found = audit.scan_value(resource.get("definition") or {}, label)
        content = resource.get("content")
        if content:
            found += audit.scan_text(content, f"{label} content")
        findings += [f.located(package=package, version=version) for f in found]
    return findings


def _drift(
    settings: Settings, slug: str, version: str | None, release: Any, stored: list[dict[str, Any]]
) -> tuple[list[Finding], str | None]:
    """Drift findings of one installation, or the reason it could not be checked."""
    from fleetprompt_cli.core.archive import read_archive_texts, sha256_file
    from fleetprompt_cli.core.install_rules import resources_of
    from fleetprompt_cli.errors import FleetPromptError
    from fleetprompt_cli.indexio.fetch import ArchiveCache

    if release is None or not release.sha256 or not release.manifest:
        return [], f"{slug}: no recorded archive (sha256) to compare with"
    try:
        path = ArchiveCache(settings.archive_cache).path_for(release.sha256)
    except FleetPromptError:
        return [], f"{slug}: the recorded sha256 is not valid"
    if not path.is_file():
        return [], f"{slug} {version}: its archive is no longer in the cache"
    if sha256_file(path) != release.sha256:
        return [], f"{slug} {version}: the cached archive does not match its sha256"
    try:
        expected = resources_of(release.manifest, read_archive_texts(path))
    except FleetPromptError as exc:
        return [], f"{slug} {version}: the archive cannot be read ({exc})"
    have = {(r["kind"], r["name"]): r for r in stored}
    want = {(r.kind, r.name): r for r in expected}
    findings = []

    def drift(kind: str, name: str, what: str) -> None:
        findings.append(
            Finding(
                audit.DRIFT,
                f"{what} (archive sha256 {release.sha256[:12]})",
                _label(kind, name),
                package=slug,
                version=version,
                extra={"changed": what},
            )
        )

    for key in sorted(want.keys() | have.keys()):
        kind, name = key
        if key not in have:
            drift(kind, name, "missing from the store")
        elif key not in want:
            drift(kind, name, "in the store but not in the archive")
        else:
            changed = []
            if (have[key].get("content") or "") != (want[key].content or ""):
                changed.append("content")
            if dict(have[key].get("definition") or {}) != dict(want[key].definition):
                changed.append("definition")
            if changed:
                drift(kind, name, f"{' and '.join(changed)} changed since install")
    return findings, None


def audit_installed(
    settings: Settings,
    store: Store | StateSource,
    tenant: str,
    slugs: list[str] | tuple[str, ...] = (),
    *,
    drift: bool = False,
) -> AuditReport:
    """Scan the tenant's live installations (only ``slugs``, when given).

    ``store`` may be a StateSource (read through the fast reader, no ORM);
    ``drift`` needs the releases, read through the ORM store.
    """
    if drift:
        from fleetprompt_cli.actions.source import StateSource

        if isinstance(store, StateSource):
            store = store.open_store()
    from fleetprompt_cli.actions.state import read_tenant

    wanted = [canonical_slug(s) for s in slugs]

    def body(s: Any, repo: ModuleType, tenant_id: int, name: str, _tier: str) -> AuditReport:
        rows = {row.slug: row for row in repo.list_installations(s, tenant_id)}
        for slug in wanted:
            if slug not in rows:
                raise not_installed(slug, name)
        chosen = [rows[slug] for slug in (wanted or sorted(rows))]
        by_installation = _stored_resources(s, repo, tenant_id, [repo.saved_id(r) for r in chosen])
        findings: list[Finding] = []
        packages = []
        unchecked = []
        for row in chosen:
            stored = by_installation.get(repo.saved_id(row), [])
            found = audit_resources(stored, package=row.slug, version=row.version)
            if drift:
                release = repo.deployed_release(s, tenant_id, row.slug)
                drifted, why = _drift(settings, row.slug, row.version, release, stored)
                found += drifted
                if why:
                    unchecked.append(why)
            findings += found
            packages.append({"slug": row.slug, "version": row.version, "resources": len(stored)})
        return AuditReport(name, packages, findings, drift, unchecked)

    return read_tenant(store, tenant, body)


def _stored_resources(
    s: Any, repo: ModuleType, tenant_id: int, installation_ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    """The resources (with definition and content) of these installations, by installation.

    Over the ORM (a Session) through the repository; over the fast reader in
    one plain SELECT of the tenant's rows (its resource rows carry no content).
    """
    wanted = set(installation_ids)
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in installation_ids}
    if hasattr(repo, "upsert_resource"):  # the ORM repository
        for r in repo.list_resources(s, tenant_id):
            if r.installation_id in wanted:
                out[r.installation_id].append(
                    {
                        "kind": r.kind,
                        "name": r.name,
                        "definition": r.definition,
                        "content": r.content,
                    }
                )
        return out
    raw = s.rows(
        "SELECT installation_id, kind, name, definition, content FROM installed_resources"
        " WHERE tenant_id = ? ORDER BY installation_id, kind, name",
        (tenant_id,),
    )
    for installation_id, kind, name, definition, content in raw:
        if installation_id in wanted:
            if isinstance(definition, str | bytes):
                definition = json.loads(definition)
            out[installation_id].append(
                {"kind": kind, "name": name, "definition": definition or {}, "content": content}
            )
    return out


def _text_files(folder: Path) -> list[Path]:
    files = []
    for path in sorted(folder.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        if path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_FILE:
            continue
        files.append(path)
    return files


def audit_folder(
    folder: Path, *, package: str | None = None, version: str | None = None
) -> list[Finding]:
    """Findings in a package folder: the manifest (escapes too) and every UTF-8 file."""
    findings: list[Finding] = []
    for path in _text_files(folder):
        relative = path.relative_to(folder).as_posix()
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue  # not text: nothing a model reads as instructions
        if relative == "fleetprompt.toml":
            found = audit.scan_manifest_text(text, relative)
        else:
            found = audit.scan_text(text, relative)
        findings += [f.located(package=package, version=version) for f in found]
    return findings
