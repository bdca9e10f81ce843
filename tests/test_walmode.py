"""The catalog, like the state store, waits for a writer before switching to WAL."""

from __future__ import annotations

import sqlite3

from fleetprompt_cli import walmode
from fleetprompt_cli.indexio.catalog import Catalog


def test_new_catalog_waits_for_a_writer_in_rollback_journal_mode(tmp_path, monkeypatch):
    path = tmp_path / "catalog.db"
    # Another process created the file and writes to it before any switch to
    # WAL: SQLite refuses the switch at once while that write lasts.
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE squatter (x)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO squatter VALUES (1)")
    pauses: list[float] = []

    def writer_finishes(delay: float) -> None:
        pauses.append(delay)
        if holder.in_transaction:
            holder.execute("COMMIT")

    monkeypatch.setattr(walmode, "_pause", writer_finishes)
    try:
        catalog = Catalog(path)
        try:
            mode = catalog.db.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            catalog.close()
    finally:
        holder.close()
    assert pauses, "the switch to WAL never met the writer's lock"
    assert mode == "wal"
