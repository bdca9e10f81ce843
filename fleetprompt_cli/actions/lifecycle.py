"""The lifecycle use cases by their old address, for callers that import them from here.

They live by use case: :mod:`~fleetprompt_cli.actions.tenants`,
:mod:`~fleetprompt_cli.actions.inspecting` (list, status, history,
directives, signals), :mod:`~fleetprompt_cli.actions.adjust` (pause, resume,
configure) and :mod:`~fleetprompt_cli.actions.db`.
"""

from __future__ import annotations

from fleetprompt_cli.actions.adjust import ConfigureResult, configure, pause, resume
from fleetprompt_cli.actions.db import DbStatus, db_status, db_upgrade
from fleetprompt_cli.actions.inspecting import (
    MIN_PREFIX,
    DirectiveInfo,
    InstallationDetail,
    InstallationInfo,
    InstallationList,
    RevisionInfo,
    SignalInfo,
    StepInfo,
    TenantSummary,
    directive_detail,
    history,
    installation_detail,
    list_directives,
    list_installations,
    list_signals,
    status,
    tenant_summary,
)
from fleetprompt_cli.actions.preview import upgrade_targets
from fleetprompt_cli.actions.tenants import TenantInfo, create_tenant, list_tenants, set_tier

__all__ = [
    "MIN_PREFIX",
    "ConfigureResult",
    "DbStatus",
    "DirectiveInfo",
    "InstallationDetail",
    "InstallationInfo",
    "InstallationList",
    "RevisionInfo",
    "SignalInfo",
    "StepInfo",
    "TenantInfo",
    "TenantSummary",
    "configure",
    "create_tenant",
    "db_status",
    "db_upgrade",
    "directive_detail",
    "history",
    "installation_detail",
    "list_directives",
    "list_installations",
    "list_signals",
    "list_tenants",
    "pause",
    "resume",
    "set_tier",
    "status",
    "tenant_summary",
    "upgrade_targets",
]
