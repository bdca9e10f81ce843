"""store/libpq.py: the fast reader's libpq connection answers as psycopg does.

On the real PostgreSQL server: every column type the state store uses comes
back as the value psycopg gives, parameters and NULLs round-trip, and a
failed connection or statement says what psycopg says.  When no libpq can be
loaded the fast reader uses psycopg (tests/cli/test_fast_reads.py compares
both over a populated store).
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest

from fleetprompt_cli.store import fastread, libpq

pytestmark = pytest.mark.postgres


@pytest.fixture
def conninfo(postgres_admin_url: str) -> str:
    # SQLAlchemy's postgresql+psycopg:// spelling, as libpq reads it.
    return "postgresql" + postgres_admin_url.split("+psycopg", 1)[1]


@pytest.fixture
def connection(conninfo: str):
    opened = libpq.Connection(conninfo, connect_timeout=10)
    yield opened
    opened.close()


def test_every_store_type_reads_as_psycopg_reads_it(connection, conninfo):
    queries = [
        "SELECT true, false, 7::int2, '-2147483648'::int4, 9007199254740993::int8, 1259::oid",
        "SELECT 'caf\u00e9 \u2603'::text, 'v'::varchar(20), 'c'::char(3), 'pg_class'::name, ''",
        "SELECT COUNT(*) FROM (VALUES (1), (2)) v(x)",
        """SELECT '{"a": [1, 2.5, null, "\u00e9"], "b": {"c": true}}'::jsonb,"""
        """ '{"z": 1, "a": 2}'::json, '[]'::jsonb, '"text"'::jsonb""",
        "SELECT '2026-12-02 11:30:01.123456+05:30'::timestamptz,"
        " '1999-12-31 23:59:59.999999+00'::timestamptz, '2000-01-01'::timestamptz,"
        " '1970-01-01 00:00:00.000001'::timestamp",
        "SELECT NULL::text, NULL::int4, NULL::jsonb, NULL::timestamptz, NULL::bool",
        "SELECT to_regclass('pg_class')::text, to_regclass('no_such_table')::text",
    ]
    with psycopg.connect(conninfo) as reference:
        for sql in queries:
            expected = reference.execute(sql).fetchall()
            assert connection.execute(sql) == expected, sql
    # Times are aware, in UTC (psycopg gives the session's zone: same instant).
    (when, *_), *_ = connection.execute("SELECT '2026-12-02 12:00:00+02'::timestamptz")
    assert when == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert when.utcoffset() == timedelta(0)


def test_the_session_time_zone_and_date_style_change_no_value(connection):
    # Binary results: no text format to parse, whatever the session says.
    connection.execute("SET TimeZone TO 'Asia/Kolkata'")
    connection.execute("SET DateStyle TO 'SQL, DMY'")
    rows = connection.execute("SELECT '2026-03-04 05:06:07+00'::timestamptz")
    assert rows == [(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),)]
    assert rows[0][0] == datetime(2026, 3, 4, 10, 36, 7, tzinfo=timezone(timedelta(hours=5.5)))


def test_parameters_round_trip(connection):
    rows = connection.execute(
        "SELECT $1::text, $2::int4, $3::text IS NULL, $4::text, $5::int8 + 1, $6 = 'a%_\\'",
        ["caf\u00e9", 42, None, "", 2**62, "a%_\\"],
    )
    assert rows == [("caf\u00e9", 42, True, "", 2**62 + 1, True)]
    # Untyped parameters take their type from the statement, as in the fast reader.
    assert connection.execute("SELECT 1 WHERE 5 > $1 LIMIT $2", [3, 1]) == [(1,)]
    with pytest.raises(TypeError, match="unsupported parameter type bool"):
        connection.execute("SELECT $1", [True])


def test_empty_results_and_commands(connection):
    assert connection.execute("SELECT 1 WHERE false") == []
    assert connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") == []
    with pytest.raises(libpq.Error, match="read-only transaction"):
        connection.execute("CREATE TEMPORARY TABLE t (x int)")


def test_a_failed_statement_says_what_psycopg_says(connection, conninfo):
    with psycopg.connect(conninfo) as reference, pytest.raises(psycopg.Error) as expected:
        reference.execute("SELECT * FROM no_such_table")
    with pytest.raises(libpq.Error) as failed:
        connection.execute("SELECT * FROM no_such_table")
    assert str(failed.value) == str(expected.value).splitlines()[0]
    assert str(failed.value) == 'relation "no_such_table" does not exist'


def test_a_type_it_does_not_know_is_an_error_not_a_guess(connection):
    with pytest.raises(libpq.Error, match="type OID 1700"):
        connection.execute("SELECT 1.5::numeric")
    with pytest.raises(libpq.Error, match="cannot read a value of column 1"):
        connection.execute("SELECT 'infinity'::timestamptz")


def test_a_failed_connection_says_what_psycopg_says(conninfo):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    with pytest.raises(psycopg.Error) as expected:
        psycopg.connect(closed, connect_timeout=10)
    with pytest.raises(libpq.Error) as failed:
        libpq.Connection(closed, connect_timeout=10)
    assert str(failed.value).splitlines()[0] == str(expected.value).splitlines()[0]
    assert str(failed.value).startswith("connection failed: ")
    # The fast reader hands it to the ORM path, which words it for the person.
    with pytest.raises(fastread.Fallback) as fallback:
        fastread.open_reader(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
    assert fallback.value.state == "unreadable"
    assert fallback.value.detail == str(expected.value).splitlines()[0]


def test_a_closed_connection_refuses_statements(conninfo):
    opened = libpq.Connection(conninfo, connect_timeout=10)
    opened.close()
    opened.close()  # twice is fine
    with pytest.raises(libpq.Error, match="closed"):
        opened.execute("SELECT 1")


def test_a_silent_server_times_out_as_psycopg_says():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the TCP connection, never answers
        url = f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/postgres"
        with pytest.raises(psycopg.Error) as expected:
            psycopg.connect(url, connect_timeout=1)
        with pytest.raises(libpq.Error) as failed:
            libpq.Connection(url, connect_timeout=1)
    assert str(failed.value) == str(expected.value) == "connection timeout expired"


def test_server_notices_are_not_printed(connection, capfd):
    # libpq's default would print them on stderr; psycopg drops them too.
    connection.execute("DO $$ BEGIN RAISE WARNING 'a warning for nobody'; END $$")
    assert connection.execute("SELECT 1") == [(1,)]
    assert "a warning for nobody" not in capfd.readouterr().err
