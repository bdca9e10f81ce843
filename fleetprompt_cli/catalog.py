"""Moved to :mod:`fleetprompt_cli.indexio.catalog`; this re-export keeps the old path working.

Temporary (issue 10): remove it once no caller imports ``fleetprompt_cli.catalog``.
"""

from __future__ import annotations

from fleetprompt_cli.indexio.catalog import CATALOG_SCHEMA, Catalog, RefreshReport, SearchHit

__all__ = ["CATALOG_SCHEMA", "Catalog", "RefreshReport", "SearchHit"]
