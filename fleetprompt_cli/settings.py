"""Settings and places: flags beat environment beats config file beats defaults.

Every ``FLEETPROMPT_*`` environment variable is read here and nowhere else
(:data:`ENVIRONMENT` lists them; the README's environment table is tested
against it). One validation style: a value that cannot be used is an
:class:`InvalidInput` (exit 8) naming the variable or the config key, never a
silent fallback to the default.

Kept light on purpose (stdlib, platformdirs): every command, including
``--help`` and ``search``, loads settings.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fleetprompt_cli import PLATFORM_VERSION
from fleetprompt_cli.errors import InvalidInput

__all__ = [
    "BUNDLED_INDEX",
    "DEFAULT_CLAIM_GRACE_SECONDS",
    "DEFAULT_INDEX_NAME",
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_QUEUE_NAME",
    "DEFAULT_SWEEP_SECONDS",
    "ENVIRONMENT",
    "TEST_HOOKS",
    "TRUST_POLICIES",
    "IndexSource",
    "Settings",
    "claim_grace_seconds",
    "debug",
    "fault_clock_offset",
    "fault_hold_path",
    "fault_spec",
    "lease_seconds",
    "load_settings",
    "queue_backend",
    "queue_name",
    "safe_url",
    "save_indexes",
    "signal_max_attempts",
    "sweep_seconds",
]

# The default index ships next to the package: in a checkout (editable
# install) it is the repository's registry_index/, in a wheel the same folder
# installed beside fleetprompt_cli/.
BUNDLED_INDEX = Path(__file__).resolve().parent.parent / "registry_index"
DEFAULT_INDEX_NAME = "default"
DEFAULT_INDEX_MAX_AGE = 600.0
DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_SWEEP_SECONDS = 5.0
DEFAULT_CLAIM_GRACE_SECONDS = 60.0
DEFAULT_QUEUE_NAME = "fleetprompt"
DEFAULT_SIGNAL_MAX_ATTEMPTS = 3
MAX_SIGNAL_ATTEMPTS = 100

# Every FLEETPROMPT_* variable fleetprompt reads, as the README documents them.
ENVIRONMENT: tuple[str, ...] = (
    "FLEETPROMPT_HOME",
    "FLEETPROMPT_INDEX",
    "FLEETPROMPT_INDEX_MAX_AGE",
    "FLEETPROMPT_DATABASE_URL",
    "FLEETPROMPT_QUEUE_URL",
    "FLEETPROMPT_TENANT",
    "FLEETPROMPT_ACTOR",
    "FLEETPROMPT_PLATFORM_VERSION",
    "FLEETPROMPT_LEASE_SECONDS",
    "FLEETPROMPT_SWEEP_SECONDS",
    "FLEETPROMPT_CLAIM_GRACE_SECONDS",
    "FLEETPROMPT_QUEUE_NAME",
    "FLEETPROMPT_SIGNAL_MAX_ATTEMPTS",
    "FLEETPROMPT_DEBUG",
)
# Variables for the test suite only, deliberately left out of the README:
# fault injection (fleetprompt_cli/faults.py) and the test backends.
TEST_HOOKS: tuple[str, ...] = (
    "FLEETPROMPT_FAULT",
    "FLEETPROMPT_FAULT_CLOCK_OFFSET",
    "FLEETPROMPT_FAULT_HOLD",
    "FLEETPROMPT_TEST_DATABASE_URL",
    "FLEETPROMPT_TEST_REDIS_URL",
    "FLEETPROMPT_RESOLVER_EXAMPLES",
)


# How a client treats an index's signatures (docs/index-format.md, README):
# "require" refuses unsigned versions; "verify-if-present" checks the
# signatures there are.  An index without one set gets its kind's default
# (actions/trust.py: require for git indexes, verify-if-present for folders).
TRUST_POLICIES: tuple[str, ...] = ("require", "verify-if-present")


@dataclass(frozen=True)
class IndexSource:
    """A configured index: a name and a location (a folder or a git URL)."""

    name: str
    url: str
    # Where it was configured ("FLEETPROMPT_INDEX", "config.toml"), for messages.
    origin: str = field(default="", compare=False)
    # The trust policy set for it (one of TRUST_POLICIES), None for the default.
    trust: str | None = None

    @property
    def label(self) -> str:
        """The index as messages name it: ``index 'team' (from config.toml)``."""
        return f"index {self.name!r}" + (f" (from {self.origin})" if self.origin else "")


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about where things are."""

    home: Path
    data_dir: Path
    cache_dir: Path
    config_dir: Path
    indexes: tuple[IndexSource, ...]
    database_url: str
    queue_url: str
    tenant: str
    actor: str
    platform_version: str
    index_max_age: float
    config: dict[str, Any] = field(default_factory=dict, compare=False)
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    sweep_seconds: float = DEFAULT_SWEEP_SECONDS
    claim_grace_seconds: float = DEFAULT_CLAIM_GRACE_SECONDS
    queue_name: str = DEFAULT_QUEUE_NAME
    debug: bool = False

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def catalog_path(self) -> Path:
        return self.cache_dir / "catalog.db"

    @property
    def index_clones(self) -> Path:
        return self.cache_dir / "indexes"

    @property
    def publish_clones(self) -> Path:
        """Clones of git indexes that publish, yank and owner write to and push from."""
        return self.cache_dir / "publish"

    @property
    def archive_cache(self) -> Path:
        return self.cache_dir / "archives"

    @property
    def keys_dir(self) -> Path:
        """The publisher's signing key (``signing.key``, mode 0600) and its public half."""
        return self.data_dir / "keys"

    @property
    def trust_dir(self) -> Path:
        """Pinned keys and the last commit seen, one file per index (like known_hosts)."""
        return self.data_dir / "trust"

    @property
    def policy_table(self) -> tuple[Any, str]:
        """The global default policy (``[policy]`` of config.toml, checked by
        ``core/policy.py``) and where it is, for messages."""
        return self.config.get("policy", {}), f"{self.config_file}: [policy]"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields replaced (flags win over everything)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _seconds(variable: str, default: float) -> float:
    """A non-negative number of seconds from the environment, or ``default`` when unset."""
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{variable} must be a number of seconds, not {raw[:80]!r}") from None
    if not 0 <= value < float("inf"):
        raise InvalidInput(f"{variable} must be a number of seconds, not {raw[:80]!r}")
    return value


def lease_seconds() -> float:
    """How long a directive's lease lasts without a heartbeat (FLEETPROMPT_LEASE_SECONDS)."""
    return _seconds("FLEETPROMPT_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)


def sweep_seconds() -> float:
    """Seconds between a worker's sweeps (FLEETPROMPT_SWEEP_SECONDS)."""
    return _seconds("FLEETPROMPT_SWEEP_SECONDS", DEFAULT_SWEEP_SECONDS)


def claim_grace_seconds() -> float:
    """How long a queued directive waits unclaimed before a sweep takes it
    (FLEETPROMPT_CLAIM_GRACE_SECONDS)."""
    return _seconds("FLEETPROMPT_CLAIM_GRACE_SECONDS", DEFAULT_CLAIM_GRACE_SECONDS)


def signal_max_attempts() -> int:
    """How many times a handler is tried on one signal before the delivery is
    dead-lettered (FLEETPROMPT_SIGNAL_MAX_ATTEMPTS, 1 to 100, default 3)."""
    raw = os.environ.get("FLEETPROMPT_SIGNAL_MAX_ATTEMPTS")
    if not raw:
        return DEFAULT_SIGNAL_MAX_ATTEMPTS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_SIGNAL_ATTEMPTS:
        raise InvalidInput(
            f"FLEETPROMPT_SIGNAL_MAX_ATTEMPTS must be a whole number from 1 to "
            f"{MAX_SIGNAL_ATTEMPTS}, not {raw[:80]!r}"
        )
    return value


def queue_name() -> str:
    """The huey queue's name: Redis key prefix, SQLite queue column (FLEETPROMPT_QUEUE_NAME)."""
    return os.environ.get("FLEETPROMPT_QUEUE_NAME") or DEFAULT_QUEUE_NAME


QUEUE_SCHEMES: dict[str, str] = {
    "sqlite": "sqlite",
    "redis": "redis",
    "rediss": "redis",
    "unix": "redis",
    "postgresql": "postgres",
    "postgresql+psycopg": "postgres",
    "postgres": "postgres",
}


def queue_backend(url: str) -> str:
    """Which queue a FLEETPROMPT_QUEUE_URL names: ``sqlite``, ``redis`` or ``postgres``.

    ``sqlite:///PATH`` (the default), ``redis://``/``rediss://``/``unix://``,
    or ``postgresql://`` / ``postgresql+psycopg://`` (huey's storage on
    PostgreSQL: a deployment with no Redis).  Anything else is an
    :class:`InvalidInput` naming the variable, the URL shown without its password.
    """
    scheme, sep, rest = url.partition("://")
    backend = QUEUE_SCHEMES.get(scheme.lower()) if sep else None
    if backend is None or (backend == "sqlite" and not rest.startswith("/")) or not rest:
        raise InvalidInput(
            f"FLEETPROMPT_QUEUE_URL (or config 'queue_url') {safe_url(url)[:120]!r} is not a "
            "queue URL: use sqlite:///PATH, redis://HOST[:PORT]/DB or postgresql://HOST/DB"
        )
    return backend


def debug() -> bool:
    """Whether internal errors show their traceback (FLEETPROMPT_DEBUG set, non-empty)."""
    return bool(os.environ.get("FLEETPROMPT_DEBUG"))


def fault_spec() -> str:
    """The fault points to trip (FLEETPROMPT_FAULT; tests only, see faults.py)."""
    return os.environ.get("FLEETPROMPT_FAULT") or ""


def fault_hold_path() -> str:
    """The named pipe a ``POINT=hold`` fault waits on (FLEETPROMPT_FAULT_HOLD; tests only)."""
    return os.environ.get("FLEETPROMPT_FAULT_HOLD") or ""


def fault_clock_offset() -> float:
    """Seconds to add to this process's clock (FLEETPROMPT_FAULT_CLOCK_OFFSET; tests only).

    May be negative (a host whose clock is behind); anything but a finite
    number is an error naming the variable.
    """
    raw = os.environ.get("FLEETPROMPT_FAULT_CLOCK_OFFSET")
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not -float("inf") < value < float("inf"):
        raise InvalidInput(
            f"FLEETPROMPT_FAULT_CLOCK_OFFSET must be a number of seconds, not {raw[:80]!r}"
        )
    return value


_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


def safe_url(url: str) -> str:
    """A database or queue URL as messages show it: any password replaced by ``***``.

    ``postgresql+psycopg://app:secret@db/fleet`` -> ``postgresql+psycopg://app:***@db/fleet``.
    Plain text, so that callers need not import SQLAlchemy to hide a password.
    """
    return _PASSWORD.sub(r"\1***@", url)


def _places() -> tuple[Path, Path, Path, Path]:
    home = os.environ.get("FLEETPROMPT_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return root, root, root / "cache", root
    import platformdirs

    data = Path(platformdirs.user_data_dir("fleetprompt"))
    return (
        data,
        data,
        Path(platformdirs.user_cache_dir("fleetprompt")),
        Path(platformdirs.user_config_dir("fleetprompt")),
    )


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{path}: cannot read config file: {error}") from None
    import tomllib  # Most runs have no config file and skip the parser.

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput(f"{path}: cannot read config file: {error}") from None


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _configured_indexes(config: dict[str, Any], path: Path) -> list[IndexSource]:
    items = config.get("indexes", [])
    if not isinstance(items, list) or not all(
        isinstance(item, dict)
        and isinstance(item.get("name"), str)
        and isinstance(item.get("url"), str)
        and item["url"]
        for item in items
    ):
        raise InvalidInput(
            f"{path}: 'indexes' must be a list of tables with a 'name' and a 'url' string, "
            'e.g. indexes = [{name = "team", url = "https://git.example.com/index.git"}]'
        )
    for item in items:
        if item.get("trust") is not None and item["trust"] not in TRUST_POLICIES:
            raise InvalidInput(
                f"{path}: index {item['name'][:80]!r}: 'trust' must be one of "
                f"{', '.join(TRUST_POLICIES)}, not {str(item['trust'])[:80]!r}"
            )
    return [
        IndexSource(item["name"], item["url"], f"{path.name} indexes", item.get("trust"))
        for item in items
    ]


def _check_platform_version(value: str, origin: str) -> str:
    # Only a value someone set is parsed (the default is known to be valid).
    from packaging.version import InvalidVersion, Version

    try:
        if len(value) <= 64:
            Version(value)
            return value
    except (InvalidVersion, ValueError):
        pass
    raise InvalidInput(f"{origin}: {value[:80]!r} is not a PEP 440 version such as '1.4.0'")


def load_settings() -> Settings:
    """Settings from the environment and the config file, with defaults."""
    home, data_dir, cache_dir, config_dir = _places()
    config_path = config_dir / "config.toml"
    config = _read_config(config_path)

    def origin_of(env: str, key: str) -> str:
        return env if os.environ.get(env) else f"{config_path}: '{key}'"

    def pick(env: str, key: str, default: str) -> str:
        if os.environ.get(env):
            return os.environ[env]
        value = config.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise InvalidInput(f"{config_path}: '{key}' must be a string")
        return value or default

    configured = _configured_indexes(config, config_path)
    override = os.environ.get("FLEETPROMPT_INDEX")
    origin = "FLEETPROMPT_INDEX"
    if not override and config.get("index") is not None:
        override, origin = pick("", "index", ""), f"{config_path.name} 'index'"
    if override:
        indexes: tuple[IndexSource, ...] = (IndexSource("index", override, origin),)
    else:
        indexes = (IndexSource(DEFAULT_INDEX_NAME, str(BUNDLED_INDEX)), *configured)
    age = os.environ.get("FLEETPROMPT_INDEX_MAX_AGE") or config.get("index_max_age")
    try:
        max_age = DEFAULT_INDEX_MAX_AGE if age is None else float(age)
        if isinstance(age, bool) or not 0 <= max_age < float("inf"):
            raise ValueError
    except (TypeError, ValueError):
        where = origin_of("FLEETPROMPT_INDEX_MAX_AGE", "index_max_age")
        raise InvalidInput(f"{where} must be a number of seconds") from None
    platform_version = pick("FLEETPROMPT_PLATFORM_VERSION", "platform_version", PLATFORM_VERSION)
    if platform_version != PLATFORM_VERSION:
        _check_platform_version(
            platform_version, origin_of("FLEETPROMPT_PLATFORM_VERSION", "platform_version")
        )
    return Settings(
        home=home,
        data_dir=data_dir,
        cache_dir=cache_dir,
        config_dir=config_dir,
        indexes=indexes,
        database_url=pick(
            "FLEETPROMPT_DATABASE_URL", "database_url", f"sqlite:///{data_dir / 'state.db'}"
        ),
        queue_url=pick("FLEETPROMPT_QUEUE_URL", "queue_url", f"sqlite:///{data_dir / 'queue.db'}"),
        tenant=pick("FLEETPROMPT_TENANT", "tenant", "default"),
        actor=pick("FLEETPROMPT_ACTOR", "actor", _actor()),
        platform_version=platform_version,
        index_max_age=max_age,
        config=config,
        lease_seconds=lease_seconds(),
        sweep_seconds=sweep_seconds(),
        claim_grace_seconds=claim_grace_seconds(),
        queue_name=queue_name(),
        debug=debug(),
    )


def save_indexes(settings: Settings, indexes: list[IndexSource]) -> None:
    """Write the configured extra indexes to the config file, keeping other keys."""
    import tomli_w

    config = _read_config(settings.config_file)
    config["indexes"] = [
        {"name": i.name, "url": i.url, **({"trust": i.trust} if i.trust else {})} for i in indexes
    ]
    settings.config_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.config_file.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(config), encoding="utf-8")
    tmp.replace(settings.config_file)
