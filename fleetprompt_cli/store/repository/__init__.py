"""Repository functions: every read and write of the state store goes through here.

Each function takes an open session (``Store.session()``: one transaction)
and, when it touches tenant data, the tenant id **explicitly**, so no code
path can read or change another tenant's rows by forgetting a filter.  The
only cross-tenant functions are the queue sweep (:func:`expired_directives`,
which returns ids for the caller to claim tenant by tenant), the tenant list,
and the marketplace data that is global by design (package stats, reviews).

Functions never commit: the caller's ``with store.session()`` block decides,
so that a lifecycle change, its revision row and the stats it moves land in
one transaction or not at all.

The functions live in one module per aggregate (tenants, installations and
their revisions, resources, directives and steps, leases, marketplace,
signals, releases); this package re-exports them all, so callers write
``from fleetprompt_cli.store import repository as repo`` and ``repo.X``.
Reads for search and show (stats, reviews) go through
:mod:`fleetprompt_cli.store.stats_reader`, which needs no sqlmodel.
"""

from __future__ import annotations

from fleetprompt_cli.store.models import saved_id
from fleetprompt_cli.store.repository._common import database_now
from fleetprompt_cli.store.repository.directives import (
    StepSpec,
    create_directive,
    find_directives,
    finish_directive,
    get_directive,
    leaving_slugs,
    list_directives,
    list_steps,
    reopen_directive,
    update_step,
)
from fleetprompt_cli.store.repository.installations import (
    apply_transition,
    clear_pending,
    config_diff,
    count_installations,
    find_installation,
    get_installation,
    get_installation_by_id,
    latest_installation,
    list_installations,
    list_revisions,
    plan_installation,
    set_config,
)
from fleetprompt_cli.store.repository.leases import (
    DEFAULT_CLAIM_GRACE,
    DirectiveRef,
    break_lease,
    claim_directive,
    expired_directives,
    heartbeat,
    release,
    reserve_wakeup,
)
from fleetprompt_cli.store.repository.marketplace import (
    delete_review,
    reviewed_version,
    upsert_review,
    vote_helpful,
)
from fleetprompt_cli.store.repository.releases import (
    deployed_release,
    get_release,
    list_releases,
    mark_uninstalled,
    record_release,
    resources_snapshot,
)
from fleetprompt_cli.store.repository.resources import (
    delete_resources,
    list_resources,
    put_resources,
    resource_counts,
    upsert_resource,
)
from fleetprompt_cli.store.repository.signals import (
    append_signal,
    count_signals,
    last_sequence,
    list_signals,
    publish_signal,
    signal_rows,
)
from fleetprompt_cli.store.repository.subscriptions import (
    SubscriptionSpec,
    count_delivered,
    delete_subscriptions,
    delivery_labels,
    find_subscription,
    get_delivery,
    list_deliveries,
    list_subscriptions,
    lock_subscriptions,
    record_deliveries,
    replace_subscriptions,
    set_subscription_offsets,
    set_subscriptions_status,
    subscribed_tenants,
    update_delivery,
)
from fleetprompt_cli.store.repository.tenants import (
    DEFAULT_TENANT,
    create_tenant,
    get_tenant,
    list_tenants,
    lock_tenant,
    resolve_tenant,
    set_tier,
)

__all__ = [
    "DEFAULT_CLAIM_GRACE",
    "DEFAULT_TENANT",
    "DirectiveRef",
    "StepSpec",
    "SubscriptionSpec",
    "append_signal",
    "apply_transition",
    "break_lease",
    "claim_directive",
    "clear_pending",
    "config_diff",
    "count_delivered",
    "count_installations",
    "count_signals",
    "create_directive",
    "create_tenant",
    "database_now",
    "delete_resources",
    "delete_review",
    "delete_subscriptions",
    "delivery_labels",
    "deployed_release",
    "expired_directives",
    "find_directives",
    "find_installation",
    "find_subscription",
    "finish_directive",
    "get_delivery",
    "get_directive",
    "get_installation",
    "get_installation_by_id",
    "get_release",
    "get_tenant",
    "heartbeat",
    "last_sequence",
    "latest_installation",
    "leaving_slugs",
    "list_deliveries",
    "list_directives",
    "list_installations",
    "list_releases",
    "list_resources",
    "list_revisions",
    "list_signals",
    "list_steps",
    "list_subscriptions",
    "list_tenants",
    "lock_subscriptions",
    "lock_tenant",
    "mark_uninstalled",
    "plan_installation",
    "publish_signal",
    "put_resources",
    "record_deliveries",
    "record_release",
    "release",
    "reopen_directive",
    "replace_subscriptions",
    "reserve_wakeup",
    "resolve_tenant",
    "resource_counts",
    "resources_snapshot",
    "reviewed_version",
    "saved_id",
    "set_config",
    "set_subscription_offsets",
    "set_subscriptions_status",
    "set_tier",
    "signal_rows",
    "subscribed_tenants",
    "update_delivery",
    "update_step",
    "upsert_resource",
    "upsert_review",
    "vote_helpful",
]

# Tenant policies and approvals (governance), kept at the end as one block.
from fleetprompt_cli.store.repository.policies import (
    add_approval,
    add_policy_version,
    current_policy,
    list_approvals,
    policy_versions,
)

__all__ += [
    "add_approval",
    "add_policy_version",
    "current_policy",
    "list_approvals",
    "policy_versions",
]
