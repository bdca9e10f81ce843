"""Settings and places: flags beat environment beats config file beats defaults.

Kept light on purpose (stdlib, platformdirs): every command, including
``--help`` and ``search``, loads settings.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fleetprompt_cli import PLATFORM_VERSION
from fleetprompt_cli.errors import InvalidInput

__all__ = [
    "BUNDLED_INDEX",
    "DEFAULT_INDEX_NAME",
    "IndexSource",
    "Settings",
    "load_settings",
    "save_indexes",
]

# The default index ships next to the package: in a checkout (editable
# install) it is the repository's registry_index/, in a wheel the same folder
# installed beside fleetprompt_cli/.
BUNDLED_INDEX = Path(__file__).resolve().parent.parent / "registry_index"
DEFAULT_INDEX_NAME = "default"
DEFAULT_INDEX_MAX_AGE = 600.0


@dataclass(frozen=True)
class IndexSource:
    """A configured index: a name and a location (a folder or a git URL)."""

    name: str
    url: str
    # Where it was configured ("FLEETPROMPT_INDEX", "config.toml"), for messages.
    origin: str = field(default="", compare=False)

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
    def archive_cache(self) -> Path:
        return self.cache_dir / "archives"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields replaced (flags win over everything)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


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
    return [IndexSource(item["name"], item["url"], f"{path.name} indexes") for item in items]


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
    )


def save_indexes(settings: Settings, indexes: list[IndexSource]) -> None:
    """Write the configured extra indexes to the config file, keeping other keys."""
    import tomli_w

    config = _read_config(settings.config_file)
    config["indexes"] = [{"name": i.name, "url": i.url} for i in indexes]
    settings.config_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.config_file.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(config), encoding="utf-8")
    tmp.replace(settings.config_file)
