"""The state store's tables (sqlmodel), shared by SQLite and PostgreSQL.

Every tenant-owned table carries ``tenant_id``; rows that point at another
tenant-owned row do so through a composite foreign key that includes the
tenant, so the database itself refuses a row of tenant B that points at an
installation or directive of tenant A.  ``package_stats`` and ``reviews`` are
marketplace data, global on purpose (a review records the tenant it came from).

The schema is created and changed only by the alembic migrations in
``migrations/``; ``tests/store/test_migrations.py`` checks that these models
and the migrated schema agree.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from fleetprompt_cli.core import vocab
from fleetprompt_cli.store.records import utcnow
from fleetprompt_cli.store.schema_head import SCHEMA_HEAD, VERSION_TABLE

__all__ = [
    "DELIVERY_STATUSES",
    "DIRECTIVE_KINDS",
    "DIRECTIVE_STATUSES",
    "NAMING_CONVENTION",
    "RELEASE_ACTIONS",
    "RELEASE_STATUSES",
    "RESOURCE_KINDS",
    "SCHEMA_HEAD",
    "STEP_ACTIONS",
    "STEP_STATUSES",
    "SUBSCRIPTION_STATUSES",
    "TIERS",
    "VERSION_TABLE",
    "Delivery",
    "Directive",
    "DirectiveStep",
    "Installation",
    "InstalledResource",
    "JSONType",
    "PackageApproval",
    "PackageStats",
    "Release",
    "Review",
    "ReviewVote",
    "Revision",
    "Signal",
    "Subscription",
    "Tenant",
    "TenantCounter",
    "TenantPolicy",
    "UTCDateTime",
    "metadata",
    "saved_id",
    "utcnow",
]

# SCHEMA_HEAD (the alembic revision these models describe) and VERSION_TABLE
# live in schema_head.py, importable without sqlmodel by the fast reader.

# The words of each column with a fixed vocabulary: one home, core/vocab.py.
TIERS = vocab.TIERS
RESOURCE_KINDS = vocab.RESOURCE_KINDS
DIRECTIVE_KINDS = vocab.DIRECTIVE_KINDS
DIRECTIVE_STATUSES = vocab.DIRECTIVE_STATUSES
STEP_ACTIONS = vocab.STEP_ACTIONS
STEP_STATUSES = vocab.STEP_STATUSES
_INSTALLATION_STATUSES = vocab.INSTALLATION_STATUSES
RELEASE_ACTIONS = vocab.RELEASE_ACTIONS
RELEASE_STATUSES = vocab.RELEASE_STATUSES

# Deterministic constraint names: migrations (and SQLite's batch mode, which
# recreates tables) need every constraint to have a name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Only the store imports sqlmodel, so its global metadata holds our tables
# alone; the naming convention must be set before the first table is defined.
metadata: MetaData = SQLModel.metadata
metadata.naming_convention = NAMING_CONVENTION


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value
    is stored as naive UTC text (which also sorts and compares correctly) and
    given back its UTC zone when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the state store needs aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON everywhere; JSONB on PostgreSQL (compact, indexable, comparable).
JSONType = JSON().with_variant(JSONB(), "postgresql")


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name)


def _new_uuid() -> str:
    return str(uuid.uuid4())


class _Keyed(Protocol):
    id: int | None


def saved_id(row: _Keyed) -> int:
    """The primary key of a row the database has given one (loaded or flushed)."""
    assert row.id is not None, f"{type(row).__name__} has no id before it is flushed"
    return row.id


class Tenant(SQLModel, table=True):
    """A tenant: the unit of isolation, with the tier that gates packages."""

    __tablename__ = "tenants"
    __table_args__ = (_one_of("tier", TIERS, "tier"),)

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_type=String(100), unique=True, nullable=False)
    tier: str = Field(default="free", sa_type=String(20), nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class TenantCounter(SQLModel, table=True):
    """Per-tenant counters, updated under a row lock (gapless signal sequence)."""

    __tablename__ = "tenant_counters"

    tenant_id: int = Field(primary_key=True, foreign_key="tenants.id", ondelete="CASCADE")
    signal_sequence: int = Field(default=0, nullable=False)


class Installation(SQLModel, table=True):
    """One package installed (or being installed) for a tenant.

    ``version`` is the current revision's version (None until the first
    install completes); ``pending_version``/``pending_config`` are what the
    running directive is applying.  Rows that are finished (``uninstalled``,
    or ``cancelled`` before anything was installed) are kept for history; at
    most one live row exists per (tenant, slug).
    """

    __tablename__ = "installations"
    __table_args__ = (
        # The target of the composite foreign keys that pin child rows to the
        # same tenant as their installation.
        UniqueConstraint("tenant_id", "id"),
        Index(
            "uq_installations_live_slug",
            "tenant_id",
            "slug",
            unique=True,
            sqlite_where=text("status NOT IN ('uninstalled', 'cancelled')"),
            postgresql_where=text("status NOT IN ('uninstalled', 'cancelled')"),
        ),
        _one_of("status", _INSTALLATION_STATUSES, "status"),
        _one_of("previous_status", _INSTALLATION_STATUSES, "previous_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", nullable=False, index=True)
    slug: str = Field(sa_type=String(200), nullable=False)
    version: str | None = Field(default=None, sa_type=String(100))
    revision: int = Field(default=0, nullable=False)
    pending_version: str | None = Field(default=None, sa_type=String(100))
    pending_config: dict | None = Field(default=None, sa_type=JSONType)
    status: str = Field(default="queued", sa_type=String(20), nullable=False)
    # The status before the latest transition: fail_upgrade returns to it.
    previous_status: str | None = Field(default=None, sa_type=String(20))
    config: dict = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    requested: bool = Field(default=True, nullable=False)
    error_message: str | None = Field(default=None, sa_type=Text)
    installed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class InstalledResource(SQLModel, table=True):
    """An agent, workflow, skill or tool of an installation, with its content."""

    __tablename__ = "installed_resources"
    __table_args__ = (
        UniqueConstraint("tenant_id", "installation_id", "kind", "name"),
        ForeignKeyConstraint(
            ["tenant_id", "installation_id"],
            ["installations.tenant_id", "installations.id"],
            ondelete="CASCADE",
        ),
        _one_of("kind", RESOURCE_KINDS, "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", nullable=False)
    installation_id: int = Field(nullable=False)
    kind: str = Field(sa_type=String(20), nullable=False)
    name: str = Field(sa_type=String(200), nullable=False)
    definition: dict = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    # Prompts and skill files' text live in the store so that any worker on
    # any machine can serve them without the archive.
    content: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Directive(SQLModel, table=True):
    """The audited record of a requested change, and the queue of record."""

    __tablename__ = "directives"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        Index("ix_directives_status_lease", "status", "lease_expires_at"),
        _one_of("kind", DIRECTIVE_KINDS, "kind"),
        _one_of("status", DIRECTIVE_STATUSES, "status"),
    )

    id: str = Field(default_factory=_new_uuid, primary_key=True, sa_type=String(36))
    tenant_id: int = Field(foreign_key="tenants.id", nullable=False, index=True)
    actor: str = Field(sa_type=String(200), nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    kind: str = Field(sa_type=String(20), nullable=False)
    command: str = Field(default="", sa_type=Text, nullable=False)
    arguments: dict = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    plan: dict = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    atomic: bool = Field(default=False, nullable=False)
    status: str = Field(default="pending", sa_type=String(20), nullable=False)
    lease_owner: str | None = Field(default=None, sa_type=String(200))
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = Field(default=0, nullable=False)
    error: str | None = Field(default=None, sa_type=Text)
    # The failing error's kind (FleetPromptError.kind), for the exit code.
    error_kind: str | None = Field(default=None, sa_type=String(40))
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DirectiveStep(SQLModel, table=True):
    """One package's step in a directive's plan, applied in ``position`` order."""

    __tablename__ = "directive_steps"
    __table_args__ = (
        UniqueConstraint("directive_id", "position"),
        ForeignKeyConstraint(
            ["tenant_id", "directive_id"],
            ["directives.tenant_id", "directives.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "installation_id"],
            ["installations.tenant_id", "installations.id"],
        ),
        _one_of("action", STEP_ACTIONS, "action"),
        _one_of("status", STEP_STATUSES, "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", nullable=False)
    directive_id: str = Field(sa_type=String(36), nullable=False)
    position: int = Field(nullable=False)
    slug: str = Field(sa_type=String(200), nullable=False)
    version: str | None = Field(default=None, sa_type=String(100))
    action: str = Field(sa_type=String(20), nullable=False)
    installation_id: int | None = Field(default=None)
    status: str = Field(default="pending", sa_type=String(20), nullable=False)
    attempts: int = Field(default=0, nullable=False)
    error_message: str | None = Field(default=None, sa_type=Text)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Revision(SQLModel, table=True):
    """One recorded change of an installation: who, when, from/to, config diff."""

    __tablename__ = "revisions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "installation_id"],
            ["installations.tenant_id", "installations.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "directive_id"],
            ["directives.tenant_id", "directives.id"],
        ),
        Index("ix_revisions_tenant_id_installation_id", "tenant_id", "installation_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", nullable=False)
    installation_id: int = Field(nullable=False)
    directive_id: str | None = Field(default=None, sa_type=String(36))
    actor: str = Field(sa_type=String(200), nullable=False)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    transition: str = Field(sa_type=String(40), nullable=False)
    from_status: str | None = Field(default=None, sa_type=String(20))
    to_status: str = Field(sa_type=String(20), nullable=False)
    from_version: str | None = Field(default=None, sa_type=String(100))
    to_version: str | None = Field(default=None, sa_type=String(100))
    config_diff: dict | None = Field(default=None, sa_type=JSONType)


class Release(SQLModel, table=True):
    """A numbered revision of a tenant's package (after helm): what it was, whole.

    One row per completed install, upgrade, downgrade, configure, sync step,
    rollback or undo, and per failed install or upgrade.  ``number`` counts
    1, 2, 3... per (tenant, slug) and goes on across an uninstall and a
    reinstall, so a package's history reads as one line.  The snapshot
    (version, config, manifest, resources with their content) is enough to
    restore the package without the index.  Rows are written once; only
    ``status`` moves (deployed -> superseded / uninstalled).
    """

    __tablename__ = "releases"
    __table_args__ = (
        UniqueConstraint("tenant_id", "slug", "number"),
        ForeignKeyConstraint(
            ["tenant_id", "installation_id"],
            ["installations.tenant_id", "installations.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "directive_id"],
            ["directives.tenant_id", "directives.id"],
        ),
        _one_of("action", RELEASE_ACTIONS, "action"),
        _one_of("status", RELEASE_STATUSES, "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", nullable=False)
    slug: str = Field(sa_type=String(200), nullable=False)
    number: int = Field(nullable=False)
    installation_id: int = Field(nullable=False)
    directive_id: str | None = Field(default=None, sa_type=String(36))
    actor: str = Field(sa_type=String(200), nullable=False)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    action: str = Field(sa_type=String(20), nullable=False)
    status: str = Field(sa_type=String(20), nullable=False)
    version: str | None = Field(default=None, sa_type=String(100))
    previous_version: str | None = Field(default=None, sa_type=String(100))
    # The revision a rollback returned to.
    rollback_to: int | None = Field(default=None)
    config: dict = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    config_diff: dict | None = Field(default=None, sa_type=JSONType)
    sha256: str | None = Field(default=None, sa_type=String(64))
    manifest: dict | None = Field(default=None, sa_type=JSONType)
    # [{kind, name, definition, content}, ...] as installed.
    resources: list = Field(default_factory=list, sa_type=JSONType, nullable=False)
    error: str | None = Field(default=None, sa_type=Text)


class PackageStats(SQLModel, table=True):
    """Marketplace figures per package, kept current by the writes that change them."""

    __tablename__ = "package_stats"

    slug: str = Field(primary_key=True, sa_type=String(200))
    install_count: int = Field(default=0, nullable=False)
    active_install_count: int = Field(default=0, nullable=False)
    rating_sum: int = Field(default=0, nullable=False)
    rating_count: int = Field(default=0, nullable=False)


class Review(SQLModel, table=True):
    """One review per (tenant, actor, package) (public marketplace data)."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("tenant_id", "actor", "slug"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        # The detail page's most helpful reviews, read in index order.
        Index(
            "ix_reviews_slug_helpful_count_updated_at_id",
            "slug",
            "helpful_count",
            "updated_at",
            "id",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_type=String(200), nullable=False)
    actor: str = Field(sa_type=String(200), nullable=False)
    tenant_id: int = Field(foreign_key="tenants.id", nullable=False)
    rating: int = Field(nullable=False)
    # The version the tenant had installed when the review was written.
    version: str | None = Field(default=None, sa_type=String(100))
    title: str | None = Field(default=None, sa_type=String(200))
    content: str | None = Field(default=None, sa_type=Text)
    helpful_count: int = Field(default=0, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ReviewVote(SQLModel, table=True):
    """A "helpful" vote: one per (tenant, actor) per review, so counts cannot be inflated."""

    __tablename__ = "review_votes"
    __table_args__ = (UniqueConstraint("review_id", "tenant_id", "actor"),)

    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="reviews.id", nullable=False, ondelete="CASCADE")
    actor: str = Field(sa_type=String(200), nullable=False)
    tenant_id: int = Field(foreign_key="tenants.id", nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Signal(SQLModel, table=True):
    """An immutable event with a CloudEvents-shaped envelope and a per-tenant sequence."""

    __tablename__ = "signals"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sequence"),
        # CloudEvents: source + id identify an event; publishing it again is a no-op.
        UniqueConstraint("tenant_id", "source", "id"),
        Index("ix_signals_tenant_id_type", "tenant_id", "type"),
    )

    pk: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", nullable=False)
    sequence: int = Field(nullable=False)
    id: str = Field(default_factory=_new_uuid, sa_type=String(200), nullable=False)
    specversion: str = Field(default="1.0", sa_type=String(10), nullable=False)
    type: str = Field(sa_type=String(200), nullable=False)
    source: str = Field(sa_type=String(500), nullable=False)
    subject: str | None = Field(default=None, sa_type=String(500))
    time: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    datacontenttype: str = Field(default="application/json", sa_type=String(100), nullable=False)
    data: Any = Field(default=None, sa_type=JSONType, nullable=True)
    correlation_id: str | None = Field(default=None, sa_type=String(200), index=True)
    causation_id: str | None = Field(default=None, sa_type=String(200))


SUBSCRIPTION_STATUSES = ("active", "paused")
DELIVERY_STATUSES = ("delivered", "dead")


class Subscription(SQLModel, table=True):
    """A subscriber: one handler (agent, workflow or skill) of an installation.

    ``name`` is ``slug:handler``; ``patterns`` the signal types it takes
    (from the manifest's ``[signals] subscribes``).  ``offset`` is the last
    sequence it has been handed, moved in the transaction that records the
    deliveries; ``generation`` grows with each replay.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        UniqueConstraint("tenant_id", "id"),
        ForeignKeyConstraint(
            ["tenant_id", "installation_id"],
            ["installations.tenant_id", "installations.id"],
            ondelete="CASCADE",
        ),
        _one_of("status", SUBSCRIPTION_STATUSES, "status"),
        _one_of("handler_kind", RESOURCE_KINDS, "handler_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", nullable=False)
    installation_id: int = Field(nullable=False)
    slug: str = Field(sa_type=String(200), nullable=False)
    name: str = Field(sa_type=String(401), nullable=False)
    handler_kind: str = Field(sa_type=String(20), nullable=False)
    handler: str = Field(sa_type=String(200), nullable=False)
    patterns: list = Field(default_factory=list, sa_type=JSONType, nullable=False)
    status: str = Field(default="active", sa_type=String(20), nullable=False)
    offset: int = Field(default=0, nullable=False)
    generation: int = Field(default=1, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Delivery(SQLModel, table=True):
    """A signal handed to a subscriber, once per (subscriber, signal, generation)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "signal_pk", "generation"),
        ForeignKeyConstraint(
            ["tenant_id", "subscription_id"],
            ["subscriptions.tenant_id", "subscriptions.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(["signal_pk"], ["signals.pk"], ondelete="CASCADE"),
        Index("ix_deliveries_tenant_id_status", "tenant_id", "status"),
        _one_of("status", DELIVERY_STATUSES, "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", nullable=False)
    subscription_id: int = Field(nullable=False)
    signal_pk: int = Field(nullable=False)
    sequence: int = Field(nullable=False)
    generation: int = Field(nullable=False)
    status: str = Field(sa_type=String(20), nullable=False)
    attempts: int = Field(default=0, nullable=False)
    error: str | None = Field(default=None, sa_type=Text)
    result: dict | None = Field(default=None, sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class TenantPolicy(SQLModel, table=True):
    """One version of a tenant's policy (rules as data); the newest is in force.

    Rows are written once: a change adds version n+1, so the history of a
    tenant's policy is its rows (each change is also a ``policy`` directive).
    """

    __tablename__ = "tenant_policies"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", nullable=False, ondelete="CASCADE")
    version: int = Field(nullable=False)
    rules: dict = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    actor: str = Field(sa_type=String(200), nullable=False)
    directive_id: str | None = Field(default=None, sa_type=String(36))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class PackageApproval(SQLModel, table=True):
    """A package a tenant approved to install tools (``fleetprompt approve``)."""

    __tablename__ = "package_approvals"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", nullable=False, ondelete="CASCADE")
    slug: str = Field(sa_type=String(200), nullable=False)
    actor: str = Field(sa_type=String(200), nullable=False)
    directive_id: str | None = Field(default=None, sa_type=String(36))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
