"""Checking an index's signatures, archives and git history.

Reads the files docs/index-format.md describes (``packages/``,
``signatures/``, ``keys/``) and the git history of a clone; decides nothing
about where pins are kept (actions/trust.py does): it is handed the pinned
keys and returns the keys it trusts, what it would newly pin, and every
violation, each naming its file, line, package and version.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fleetprompt_cli.core.index import IndexEntry, LocalIndex, package_path
from fleetprompt_cli.core.names import canonical_slug, canonical_version
from fleetprompt_cli.core.signing import (
    KeyRecord,
    SignatureRecord,
    check_identity,
    key_payload,
    parse_key_line,
    parse_signature_line,
    release_payload,
    verify,
    yank_payload,
)

__all__ = [
    "REQUIRE",
    "KeyRing",
    "VerifyReport",
    "Violation",
    "check_entry",
    "establish_keys",
    "history_violations",
    "is_ancestor",
    "read_signatures",
    "signature_file",
    "verify_index",
]

REQUIRE = "require"
_MAX_FILE = 16 * 1024 * 1024


@dataclass(frozen=True)
class Violation:
    """One thing wrong with an index, named by where it is."""

    where: str
    message: str
    slug: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        what = f"{self.slug} {self.version}: " if self.slug and self.version else ""
        return f"{self.where}: {what}{self.message}"

    def to_json(self) -> dict[str, str | None]:
        return {
            "where": self.where,
            "slug": self.slug,
            "version": self.version,
            "message": self.message,
        }


@dataclass
class KeyRing:
    """The public keys a client trusts for one index: identity -> key id -> raw key."""

    keys: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def public(self, identity: str, key: str) -> bytes | None:
        return self.keys.get(identity, {}).get(key)

    def add(self, identity: str, key: str, public: bytes) -> None:
        self.keys.setdefault(identity, {})[key] = public

    @classmethod
    def from_pins(cls, pins: dict[str, dict[str, str]]) -> KeyRing:
        return cls(
            {
                identity: {kid: base64.b64decode(value) for kid, value in keys.items()}
                for identity, keys in pins.items()
            }
        )

    def to_pins(self) -> dict[str, dict[str, str]]:
        return {
            identity: {kid: base64.b64encode(pub).decode() for kid, pub in sorted(keys.items())}
            for identity, keys in sorted(self.keys.items())
        }


def _lines(path: Path) -> tuple[list[str], str | None]:
    """A small regular file's lines, or why it cannot be read."""
    try:
        if path.is_symlink() or not path.is_file():
            return [], "not a regular file"
        if path.stat().st_size > _MAX_FILE:
            return [], f"over {_MAX_FILE} bytes"
        return path.read_text(encoding="utf-8").splitlines(), None
    except (OSError, UnicodeDecodeError) as error:
        return [], f"cannot read: {error}"


def establish_keys(root: Path, pinned: KeyRing) -> tuple[KeyRing, list[Violation]]:
    """The keys to trust: the pinned ones, plus new ones vouched for by a trusted key.

    An identity seen for the first time is pinned on its first key record
    (trust on first use, signed by itself); any later key of an identity is
    accepted only when it is signed by a key of that identity this client
    already trusts.  Returns the ring (pins + accepted keys) and what was refused.
    """
    ring = KeyRing({identity: dict(keys) for identity, keys in pinned.keys.items()})
    problems: list[Violation] = []
    folder = root / "keys"
    try:
        names = sorted(os.listdir(folder)) if folder.is_dir() else []
    except OSError as error:
        return ring, [Violation("keys", f"cannot read: {error}")]
    for name in names:
        if name.startswith("."):
            continue
        where = f"keys/{name}"
        try:
            check_identity(name)
        except ValueError as error:
            problems.append(Violation(where, f"file name is not an identity: {error}; ignored"))
            continue
        lines, reason = _lines(folder / name)
        if reason:
            problems.append(Violation(where, reason))
            continue
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            problem = _accept_key(line, name, ring)
            if problem:
                problems.append(Violation(f"{where}:{number}", problem))
    return ring, problems


def _accept_key(line: str, identity: str, ring: KeyRing) -> str | None:
    try:
        record: KeyRecord = parse_key_line(line)
    except ValueError as error:
        return f"invalid key record: {error}"
    if record.identity != identity:
        return f"key record for {record.identity!r} in the file of {identity!r}"
    trusted = ring.keys.get(identity)
    if trusted and record.id in trusted:
        if trusted[record.id] != record.public:
            return f"key {record.id} differs from the key pinned under that id"
        return None  # Already trusted (pinned, or accepted above).
    if not trusted:
        # First use: only a record signed by its own key can be pinned.
        if not record.self_signed():
            return f"the first key of {identity!r} ({record.id}) must be signed by itself"
        vouching = record.public
    else:
        vouching = trusted.get(record.signed_by)  # type: ignore[assignment]
        if vouching is None:
            return (
                f"key {record.id} of {identity!r} is not signed by a key this client "
                f"trusts for {identity!r} (signed by {record.signed_by}): refused"
            )
    if not verify(vouching, key_payload(record.data), record.signature):
        return f"key {record.id} of {identity!r}: its signature does not verify"
    ring.add(identity, record.id, record.public)
    return None


def signature_file(root: Path, slug: str) -> Path:
    """The signature file of a package: its package file's path under ``signatures/``."""
    return root / "signatures" / package_path(canonical_slug(slug))


def read_signatures(
    root: Path, slug: str
) -> tuple[dict[str, list[tuple[str, SignatureRecord]]], list[Violation]]:
    """A package's signature records by canonical version (in file order), and bad lines."""
    path = signature_file(root, slug)
    relative = os.path.relpath(path, root)
    if not path.exists() and not path.is_symlink():
        return {}, []
    lines, reason = _lines(path)
    if reason:
        return {}, [Violation(relative, reason, slug)]
    records: dict[str, list[tuple[str, SignatureRecord]]] = {}
    problems = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{relative}:{number}"
        try:
            record = parse_signature_line(line)
            if canonical_slug(record.slug) != canonical_slug(slug):
                raise ValueError(f"record for {record.slug!r} in the file of {slug!r}")
            key = canonical_version(record.version)
        except ValueError as error:
            problems.append(Violation(where, f"invalid signature record: {error}", slug))
            continue
        records.setdefault(key, []).append((where, record))
    return records, problems


def check_entry(
    entry: IndexEntry,
    records: list[tuple[str, SignatureRecord]],
    ring: KeyRing,
    policy: str,
) -> list[Violation]:
    """What is wrong with one version's signatures under ``policy`` (empty: nothing)."""
    where = entry.origin or entry.slug
    slug, version = entry.slug, entry.version

    def bad(message: str, at: str = where) -> Violation:
        return Violation(at, message, slug, version)

    problems = []
    releases = [(w, r) for w, r in records if r.kind == "release"]
    yanks = [(w, r) for w, r in records if r.kind == "yank"]
    if not releases:
        if policy == REQUIRE:
            problems.append(bad("not signed (this index's trust policy is 'require')"))
    else:
        at, first = releases[0]
        public = ring.public(first.identity, first.key)
        if public is None:
            problems.append(
                bad(
                    f"signed by key {first.key} of {first.identity!r}, which is not a key "
                    "this client trusts for this index",
                    at,
                )
            )
        elif not verify(public, release_payload(entry.data), first.signature):
            problems.append(
                bad("the signature does not match the index line (the line was changed)", at)
            )
        for again, _ in releases[1:]:
            problems.append(bad("a second release signature for this version", again))
    expected_seq = 1
    state: bool | None = None
    for at, record in yanks:
        public = ring.public(record.identity, record.key)
        if record.seq != expected_seq:
            problems.append(
                bad(f"yank record out of sequence ({record.seq}, expected {expected_seq})", at)
            )
        elif public is None or not verify(public, yank_payload(record.data), record.signature):
            problems.append(bad("yank record not signed by a trusted key", at))
        else:
            state = record.yanked
        expected_seq += 1
    if state is not None and state != entry.yanked:
        problems.append(
            bad(
                f"'yanked' is {str(entry.yanked).lower()} but the last signed yank record "
                f"says {str(state).lower()}"
            )
        )
    elif state is None and entry.yanked and policy == REQUIRE:
        problems.append(bad("yanked without a signed yank record"))
    return problems


@dataclass
class VerifyReport:
    """What ``index verify`` found."""

    packages: int = 0
    versions: int = 0
    signed: int = 0
    archives_checked: int = 0
    commits: int = 0
    violations: list[Violation] = field(default_factory=list)


def verify_index(
    root: Path, ring: KeyRing, policy: str, *, archives: bool = True, workers: int | None = None
) -> VerifyReport:
    """Check every version line of an index folder: valid, archive, signature.

    Large indexes are checked by up to ``workers`` processes (default: one per
    CPU), each taking a share of the package files; the report is the same.
    """
    index = LocalIndex(root)
    files = sorted(relative.replace(os.sep, "/") for relative, _ in index.package_files())
    workers = workers or os.cpu_count() or 1
    if workers < 2 or len(files) < 2000:
        return _verify_files(root, files, ring, policy, archives)
    from concurrent.futures import ProcessPoolExecutor

    shares = [files[i::workers] for i in range(workers)]
    report = VerifyReport()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_verify_files, root, share, ring, policy, archives) for share in shares
        ]
        parts = [future.result() for future in futures]
    for part in parts:
        report.packages += part.packages
        report.versions += part.versions
        report.signed += part.signed
        report.archives_checked += part.archives_checked
        report.violations.extend(part.violations)
    report.violations.sort(key=lambda v: v.where)
    return report


def _verify_files(
    root: Path, files: list[str], ring: KeyRing, policy: str, archives: bool
) -> VerifyReport:
    from fleetprompt_cli.core.index import is_layout_path

    index = LocalIndex(root)
    report = VerifyReport()
    place = _ArchivePlace(root)
    for relative in files:
        name = relative.rsplit("/", 1)[-1]
        if not is_layout_path(relative):
            report.violations.append(Violation(relative, "not where the layout puts a package"))
            continue
        report.packages += 1
        entries, problems = index.read_file(relative)
        for problem in problems:
            at = f"{relative}:{problem.line}" if problem.line else relative
            report.violations.append(Violation(at, problem.message, name))
        records, bad_records = read_signatures(root, name)
        report.violations.extend(bad_records)
        listed = set()
        for entry in entries:
            report.versions += 1
            key = canonical_version(entry.version)
            listed.add(key)
            mine = records.get(key, [])
            if any(r.kind == "release" for _, r in mine):
                report.signed += 1
            report.violations.extend(check_entry(entry, mine, ring, policy))
            if archives:
                wrong = place.problem(entry)
                if wrong is not None:
                    report.violations.append(
                        Violation(entry.origin, wrong, entry.slug, entry.version)
                    )
                elif "://" not in entry.data.get("archive", ""):
                    report.archives_checked += 1
        for key in sorted(set(records) - listed):
            at = records[key][0][0]
            report.violations.append(
                Violation(at, f"a signature for version {key}, which has no index line", name)
            )
    return report


class _ArchivePlace:
    """Where archives are, confined to the index; folders are resolved once each."""

    def __init__(self, root: Path) -> None:
        self.root = os.path.realpath(root)
        self.folders: dict[str, str] = {}

    def problem(self, entry: IndexEntry) -> str | None:
        import stat

        from fleetprompt_cli.core.archive import check_archive_path, sha256_file

        archive = entry.data.get("archive", "")
        reason = check_archive_path(archive)
        if reason is None and "://" in archive:
            return None  # Hosted elsewhere: checked (by sha256) when it is installed.
        if reason is not None:
            return f"archive {archive!r} refused: {reason}"
        folder, _, name = os.path.join(self.root, archive).rpartition(os.sep)
        real = self.folders.get(folder)
        if real is None:
            real = self.folders[folder] = os.path.realpath(folder)
        target = os.path.join(real, name)
        if os.path.commonpath([self.root, target]) != self.root:
            return f"archive {archive!r} leads outside the index"
        try:
            mode = os.lstat(target).st_mode
        except OSError:
            return f"archive {archive} is missing"
        if not stat.S_ISREG(mode):
            return f"archive {archive} is not a regular file"
        actual = sha256_file(Path(target))
        if actual != entry.sha256:
            return (
                f"archive {archive} has sha256 {actual[:16]}…, the index line says "
                f"{entry.sha256[:16]}… (the archive was swapped or the line changed)"
            )
        return None


# Paths whose history may change freely: the index's settings and the
# maintainers' and owners' own files.
_MUTABLE = ("config.json", "flags.json", "owners/")


def history_violations(repo: Path) -> tuple[int, list[Violation]]:
    """Every change in the git history that removed or altered a published record.

    Walks the first-parent history of HEAD: in ``packages/`` a removed line
    must come back changed at most in ``yanked``; anywhere else but the
    index's own settings (``config.json``, ``flags.json``, ``owners/``) a
    removed line, a changed binary file (an archive) or a deleted file is a
    violation.  Returns the number of commits read and the violations.
    """
    from fleetprompt_cli.indexio.git import run_git

    commits = run_git("rev-list", "--first-parent", "--count", "HEAD", cwd=repo)
    log = run_git(
        "log",
        "--first-parent",
        "-m",
        "--no-renames",
        "--diff-filter=MDT",
        "-p",
        "--no-color",
        "--no-ext-diff",
        "--format=%x01%H",
        cwd=repo,
    )
    violations: list[Violation] = []
    commit = ""
    current: _FileDiff | None = None
    for line in log.splitlines():
        if line.startswith("\x01"):
            if current:
                violations.extend(current.check(commit))
            commit, current = line[1:], None
        elif line.startswith("diff --git "):
            if current:
                violations.extend(current.check(commit))
            current = _FileDiff(_diff_path(line))
        elif current is None:
            continue
        elif not current.in_hunk:
            # The file's header: "deleted file mode", "Binary files ... differ",
            # "--- a/..." and "+++ b/..." until the first hunk.
            if line.startswith("deleted file mode"):
                current.deleted = True
            elif line.startswith("Binary files "):
                current.binary = True
            elif line.startswith("@@"):
                current.in_hunk = True
        elif line.startswith("-"):
            current.removed.append(line[1:])
        elif line.startswith("+"):
            current.added.append(line[1:])
    if current:
        violations.extend(current.check(commit))
    return int(commits.strip() or 0), violations


def _diff_path(header: str) -> str:
    # "diff --git a/PATH b/PATH": without renames both halves are the same path.
    rest = header[len("diff --git a/") :]
    half = (len(rest) - 3) // 2
    return rest[:half] if rest[half : half + 3] == " b/" else rest


@dataclass
class _FileDiff:
    path: str
    deleted: bool = False
    binary: bool = False
    in_hunk: bool = False
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    def check(self, commit: str) -> Iterable[Violation]:
        if self.path in _MUTABLE or self.path.startswith(_MUTABLE[2]):
            return []
        short = commit[:12]
        if self.deleted:
            return [Violation(self.path, f"deleted in commit {short}")]
        if self.binary:
            return [Violation(self.path, f"replaced in commit {short}")]
        if self.path.startswith("packages/"):
            wanted = {_without_yanked(line) for line in self.added}
            gone = [line for line in self.removed if _without_yanked(line) not in wanted]
        else:
            kept = set(self.added)
            gone = [line for line in self.removed if line not in kept]
        if not gone:
            return []
        first = gone[0]
        version = _version_of(first)
        what = f"version {version}" if version else "a line"
        more = f" (and {len(gone) - 1} more lines)" if len(gone) > 1 else ""
        return [Violation(self.path, f"{what} was changed or removed in commit {short}{more}")]


def _without_yanked(line: str) -> str:
    import json

    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return line
    if not isinstance(data, dict):
        return line
    data.pop("yanked", None)
    return json.dumps(data, sort_keys=True)


def _version_of(line: str) -> str | None:
    import json

    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version[:64] if isinstance(version, str) else None


def is_ancestor(repo: Path, old: str, new: str) -> bool:
    """Whether commit ``old`` is ``new`` or an ancestor of it (False if ``old`` is unknown)."""
    from fleetprompt_cli.indexio.git import run_git_status

    return run_git_status("merge-base", "--is-ancestor", old, new, cwd=repo) == 0
