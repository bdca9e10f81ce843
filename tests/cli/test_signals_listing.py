"""signals list and tail print what they printed when the envelope was built by pydantic.

The CloudEvents form of a stored signal is built without importing pydantic
(core/signals.py ``stored_cloudevent``); its text and ``--json`` output must
stay byte for byte what they were.  The expected texts below were printed by
the code that built a ``SignalEnvelope.model_construct(...)`` per row, over
the same signals, on both backends.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from fleetprompt_cli.store import open_store
from fleetprompt_cli.store import repository as repo
from tests.helpers import run_cli

# Every optional attribute set and unset, data of several shapes, microseconds or none.
_SIGNALS = [
    dict(
        type="fleetprompt.package.installed",
        source="fleetprompt/installer",
        subject="knowledge-base",
        data={"version": "1.2.0", "requested": True},
        correlation_id="d-1",
        time=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        signal_id="11111111-1111-4111-8111-111111111111",
    ),
    dict(
        type="crm.lead.qualified",
        source="fleetprompt/cli/ann",
        # Keys in jsonb's order (shorter first), so both backends print this order.
        data={"id": 7, "none": None, "tags": ["caf\u00e9", "\u2603"], "score": 0.5},
        time=datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC),
        signal_id="22222222-2222-4222-8222-222222222222",
    ),
    dict(
        type="crm.lead.lost",
        source="fleetprompt/cli",
        subject="lead-8",
        datacontenttype="text/plain",
        data="gone",
        correlation_id="d-2",
        causation_id="11111111-1111-4111-8111-111111111111",
        time=datetime(2026, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        signal_id="33333333-3333-4333-8333-333333333333",
    ),
    dict(
        type="billing.invoice.paid",
        source="fleetprompt/cli",
        data=[1, 2.25, "x"],
        time=datetime(2027, 6, 1, tzinfo=UTC),
        signal_id="44444444-4444-4444-8444-444444444444",
    ),
]


@pytest.fixture
def logged(store_url, monkeypatch) -> str:
    """The default tenant with the four signals above, in order."""
    monkeypatch.setenv("FLEETPROMPT_DATABASE_URL", store_url)
    store = open_store(store_url)
    try:
        with store.session() as session:
            tenant_id = repo.create_tenant(session, "default").id
            for fields in _SIGNALS:
                repo.publish_signal(session, tenant_id, **fields)
    finally:
        store.dispose()
    return store_url


# Their CloudEvents JSON form, key for key in the order it is printed.
_EVENTS = [
    {
        "specversion": "1.0",
        "id": "11111111-1111-4111-8111-111111111111",
        "source": "fleetprompt/installer",
        "type": "fleetprompt.package.installed",
        "subject": "knowledge-base",
        "time": "2026-01-02T03:04:05.678901Z",
        "datacontenttype": "application/json",
        "data": {"version": "1.2.0", "requested": True},
        "tenant": "default",
        "sequence": 1,
        "correlationid": "d-1",
        "causationid": None,
    },
    {
        "specversion": "1.0",
        "id": "22222222-2222-4222-8222-222222222222",
        "source": "fleetprompt/cli/ann",
        "type": "crm.lead.qualified",
        "time": "2026-01-02T03:04:06Z",
        "datacontenttype": "application/json",
        "data": {"id": 7, "none": None, "tags": ["caf\u00e9", "\u2603"], "score": 0.5},
        "tenant": "default",
        "sequence": 2,
        "correlationid": None,
        "causationid": None,
    },
    {
        "specversion": "1.0",
        "id": "33333333-3333-4333-8333-333333333333",
        "source": "fleetprompt/cli",
        "type": "crm.lead.lost",
        "subject": "lead-8",
        "time": "2026-12-31T23:59:59.000001Z",
        "datacontenttype": "text/plain",
        "data": "gone",
        "tenant": "default",
        "sequence": 3,
        "correlationid": "d-2",
        "causationid": "11111111-1111-4111-8111-111111111111",
    },
    {
        "specversion": "1.0",
        "id": "44444444-4444-4444-8444-444444444444",
        "source": "fleetprompt/cli",
        "type": "billing.invoice.paid",
        "time": "2027-06-01T00:00:00Z",
        "datacontenttype": "application/json",
        "data": [1, 2.25, "x"],
        "tenant": "default",
        "sequence": 4,
        "correlationid": None,
        "causationid": None,
    },
]

# A stored row's attributes the envelope model takes (and the tenant's name).
_ENVELOPE = (
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "data",
    "sequence",
    "correlation_id",
    "causation_id",
)


def _out(*args: str) -> str:
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _document(events: list[dict]) -> str:
    document = {"schema": 1, "kind": "signals", "tenant": "default", "signals": events}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def test_the_text_listing_is_unchanged(logged):
    assert _out("signals") == (
        "    1  2026-01-02 03:04:05  fleetprompt.package.installed  knowledge-base\n"
        "    2  2026-01-02 03:04:06  crm.lead.qualified  \n"
        "    3  2026-12-31 23:59:59  crm.lead.lost  lead-8\n"
        "    4  2027-06-01 00:00:00  billing.invoice.paid  \n"
    )
    assert _out("signals", "list", "--type", "crm.*", "--since", "1") == (
        "    2  2026-01-02 03:04:06  crm.lead.qualified  \n"
        "    3  2026-12-31 23:59:59  crm.lead.lost  lead-8\n"
    )


def test_the_json_listing_is_unchanged(logged):
    assert _out("signals", "--json") == _document(_EVENTS)
    assert _out("signals", "list", "--json", "--since", "1", "--limit", "2") == _document(
        _EVENTS[1:3]
    )


def test_tail_prints_the_same_events(logged):
    """tail reads through the ORM: the same envelopes, the same bytes."""
    lines = "".join(
        json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n" for event in _EVENTS
    )
    assert _out("signals", "tail", "--since", "0", "--limit", "4", "--jsonl") == lines
    assert _out("signals", "tail", "--since", "2", "--limit", "1") == (
        "    3  2026-12-31 23:59:59  crm.lead.lost  lead-8\n"
    )


def test_rows_give_the_document_the_envelope_model_gave(logged):
    """stored_cloudevent over ORM and fast-reader rows = cloudevent of the model built as before."""
    from fleetprompt_cli.core import signals as core
    from fleetprompt_cli.store import fastread

    store = open_store(logged)
    try:
        with store.session(readonly=True) as session:
            tenant_id = repo.get_tenant(session, "default").id
            orm_rows = repo.list_signals(session, tenant_id)
            with fastread.reader(logged) as reader:
                fast_rows = fastread.list_signals(reader, tenant_id)
            for rows in (orm_rows, fast_rows):
                documents = []
                for row in rows:
                    envelope = core.SignalEnvelope.model_construct(
                        **{name: getattr(row, name) for name in _ENVELOPE}, tenant="default"
                    )
                    assert core.stored_cloudevent(row, "default") == core.cloudevent(envelope)
                    documents.append(core.stored_cloudevent(row, "default"))
                assert documents == _EVENTS
    finally:
        store.dispose()
