"""A PostgreSQL connection through libpq itself, for the fast read path.

Why not psycopg here: ``import psycopg`` costs ~130 ms (its adapters,
typing_extensions, asyncio, importlib.metadata...), about half of what a read
command may take in all, while libpq, the PostgreSQL project's own client
library that psycopg wraps, loads through ctypes in ~4 ms.  This module asks
libpq for only what ``store/fastread.py`` needs: connect (a URL or conninfo,
exactly as libpq reads it: ``PG*`` variables, ``.pgpass``, SSL and GSS
defaults alike), run a parameterized statement, and decode the few column
types the state store uses from libpq's *binary* result format (so neither
``DateStyle`` nor ``TimeZone`` of the session can change a value).  A type it
does not know is an :class:`Error`, never a guess.

The library is the one psycopg's binary wheel ships (``psycopg_binary.libs``,
the libpq that psycopg itself would use), else the system's ``libpq.so.5``.
When neither loads, :func:`load` raises :class:`Unavailable` and the fast
reader uses psycopg as before.
"""

from __future__ import annotations

import ctypes
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib.util import find_spec
from pathlib import Path
from select import select
from struct import error as StructError
from struct import unpack
from typing import Any

__all__ = ["Connection", "Error", "Unavailable", "load"]


class Error(Exception):
    """libpq refused: the connection or a statement failed (its message, as libpq says it)."""


class Unavailable(Exception):
    """No libpq could be loaded: use psycopg."""


# libpq's constants (libpq-fe.h), stable since PostgreSQL 7.
_CONNECTION_BAD = 1
_PGRES_POLLING_FAILED = 0
_PGRES_POLLING_READING = 1
_PGRES_POLLING_WRITING = 2
_PGRES_POLLING_OK = 3
_PGRES_COMMAND_OK = 1
_PGRES_TUPLES_OK = 2
_PG_DIAG_MESSAGE_PRIMARY = ord("M")
_BINARY = 1

# Binary decoders by type OID (pg_type.dat): the types the state store's
# columns and the fast reader's queries produce.
_PG_EPOCH = datetime(2000, 1, 1)
_PG_EPOCH_UTC = _PG_EPOCH.replace(tzinfo=UTC)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8")


def _jsonb(raw: bytes) -> Any:
    if raw[:1] != b"\x01":
        raise Error(f"unknown jsonb format version {raw[:1]!r}")
    return json.loads(raw[1:])


def _timestamptz(raw: bytes) -> datetime:
    return _PG_EPOCH_UTC + timedelta(microseconds=unpack(">q", raw)[0])


def _timestamp(raw: bytes) -> datetime:
    return _PG_EPOCH + timedelta(microseconds=unpack(">q", raw)[0])


_DECODERS: dict[int, Any] = {
    16: lambda raw: raw == b"\x01",  # bool
    20: lambda raw: unpack(">q", raw)[0],  # int8 (COUNT(*))
    21: lambda raw: unpack(">h", raw)[0],  # int2
    23: lambda raw: unpack(">i", raw)[0],  # int4
    26: lambda raw: unpack(">I", raw)[0],  # oid
    19: _text,  # name
    25: _text,  # text
    1042: _text,  # char(n)
    1043: _text,  # varchar
    114: lambda raw: json.loads(raw),  # json
    3802: _jsonb,
    1114: _timestamp,
    1184: _timestamptz,
}

_LIBRARY: Any = None
_NOTICE_PROCESSOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)
# Notices and warnings the server sends (even while connecting, e.g. a
# collation version mismatch) are dropped, as psycopg drops them when no
# handler is registered; libpq's default would print them to stderr.
_IGNORE_NOTICE = _NOTICE_PROCESSOR(lambda _arg, _message: None)


def _candidates() -> list[str]:
    found = []
    # The libpq psycopg's binary wheel bundles (manylinux: beside the package
    # as psycopg_binary.libs/libpq-HASH.so.5.N; macOS: psycopg_binary/.dylibs).
    # find_spec locates the package without importing it.
    spec = find_spec("psycopg_binary")
    if spec is not None and spec.submodule_search_locations:
        package = Path(next(iter(spec.submodule_search_locations)))
        for folder in (package.parent / "psycopg_binary.libs", package / ".dylibs"):
            found += sorted(
                str(p) for p in folder.glob("libpq*") if ".so" in p.name or p.suffix == ".dylib"
            )
    found.append("libpq.5.dylib" if sys.platform == "darwin" else "libpq.so.5")
    return found


def _declare(lib: Any) -> Any:
    c_void_p, c_char_p, c_int = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    strings = ctypes.POINTER(c_char_p)
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "PQconnectStartParams": (c_void_p, [strings, strings, c_int]),
        "PQconnectPoll": (c_int, [c_void_p]),
        "PQsocket": (c_int, [c_void_p]),
        "PQsetNoticeProcessor": (c_void_p, [c_void_p, _NOTICE_PROCESSOR, c_void_p]),
        "PQstatus": (c_int, [c_void_p]),
        "PQerrorMessage": (c_char_p, [c_void_p]),
        "PQfinish": (None, [c_void_p]),
        "PQexecParams": (
            c_void_p,
            [c_void_p, c_char_p, c_int, c_void_p, strings, c_void_p, c_void_p, c_int],
        ),
        "PQresultStatus": (c_int, [c_void_p]),
        "PQresultErrorField": (c_char_p, [c_void_p, c_int]),
        "PQntuples": (c_int, [c_void_p]),
        "PQnfields": (c_int, [c_void_p]),
        "PQftype": (ctypes.c_uint, [c_void_p, c_int]),
        "PQgetisnull": (c_int, [c_void_p, c_int, c_int]),
        "PQgetvalue": (c_void_p, [c_void_p, c_int, c_int]),
        "PQgetlength": (c_int, [c_void_p, c_int, c_int]),
        "PQclear": (None, [c_void_p]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


def load() -> Any:
    """The loaded libpq (once per process), or :class:`Unavailable`."""
    global _LIBRARY
    if _LIBRARY is None:
        for candidate in _candidates():
            try:
                _LIBRARY = _declare(ctypes.CDLL(candidate))
                break
            except (OSError, AttributeError):
                # Not there, or too old to have a function we call: try the next.
                continue
        else:
            raise Unavailable("no libpq found")
    return _LIBRARY


def _strings(values: Sequence[str | None]) -> Any:
    array = (ctypes.c_char_p * len(values))()
    for index, value in enumerate(values):
        array[index] = None if value is None else value.encode("utf-8")
    return array


def _message(raw: bytes | None, fallback: str) -> str:
    text = (raw or b"").decode("utf-8", "replace").strip()
    return text or fallback


class Connection:
    """One libpq connection; every statement's rows come back decoded, in Python types."""

    def __init__(self, conninfo: str, *, connect_timeout: int) -> None:
        lib = self._lib = load()
        # Keywords after the expanded ``dbname`` (a URL or a conninfo string)
        # override what it says, as psycopg's keyword arguments do; UTF-8 is
        # what the decoders read.
        keywords = ["dbname", "connect_timeout", "client_encoding", None]
        values = [conninfo, str(connect_timeout), "UTF8", None]
        self._pg = lib.PQconnectStartParams(_strings(keywords), _strings(values), 1)
        if not self._pg:
            raise Error("connection failed: out of memory")
        lib.PQsetNoticeProcessor(self._pg, _IGNORE_NOTICE, None)
        try:
            self._finish_connecting(connect_timeout)
        except BaseException:
            self.close()
            raise

    def _finish_connecting(self, timeout: float) -> None:
        # libpq's asynchronous connection (what psycopg does too): the notice
        # processor is in place before the server says anything, and the
        # timeout is ours to keep (PQconnectPoll ignores connect_timeout).
        lib, pg = self._lib, self._pg
        deadline = time.monotonic() + timeout
        state = _PGRES_POLLING_WRITING  # as libpq's documentation says to start
        if lib.PQstatus(pg) == _CONNECTION_BAD:
            state = _PGRES_POLLING_FAILED
        while state != _PGRES_POLLING_OK:
            if state == _PGRES_POLLING_FAILED:
                # psycopg's words for the same failure, so messages stay the same.
                detail = _message(lib.PQerrorMessage(pg), "unknown error")
                raise Error(f"connection failed: {detail}")
            socket, remaining = lib.PQsocket(pg), deadline - time.monotonic()
            waiting = ([socket], []) if state == _PGRES_POLLING_READING else ([], [socket])
            if socket < 0 or remaining <= 0 or not any(select(*waiting, [], remaining)):
                raise Error("connection timeout expired")
            state = lib.PQconnectPoll(pg)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (``$1``... placeholders) and return its rows."""
        lib, pg = self._lib, self._pg
        if not pg:
            raise Error("the connection is closed")
        texts = [_param(value) for value in params]
        result = lib.PQexecParams(
            pg, sql.encode("utf-8"), len(texts), None, _strings(texts), None, None, _BINARY
        )
        if not result:
            raise Error(_message(lib.PQerrorMessage(pg), "no result"))
        try:
            status = lib.PQresultStatus(result)
            if status not in (_PGRES_TUPLES_OK, _PGRES_COMMAND_OK):
                primary = lib.PQresultErrorField(result, _PG_DIAG_MESSAGE_PRIMARY)
                raise Error(_message(primary or lib.PQerrorMessage(pg), "statement failed"))
            return _rows(lib, result)
        finally:
            lib.PQclear(result)

    def close(self) -> None:
        """Close the connection (an open transaction ends with it, rolled back)."""
        if self._pg:
            self._lib.PQfinish(self._pg)
            self._pg = None


def _param(value: Any) -> str | None:
    # Sent as text for the server to type from the statement's context.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        # An array literal (``slug = ANY($1)``): every element double-quoted,
        # backslashes and quotes escaped, so a comma, a brace, a space or the
        # word NULL in a string stays that string.
        quoted = (item.replace("\\", "\\\\").replace('"', '\\"') for item in value)
        return "{" + ",".join(f'"{item}"' for item in quoted) + "}"
    raise TypeError(f"unsupported parameter type {type(value).__name__}")


def _rows(lib: Any, result: Any) -> list[tuple[Any, ...]]:
    width = lib.PQnfields(result)
    decoders = []
    for column in range(width):
        oid = lib.PQftype(result, column)
        if oid not in _DECODERS:
            raise Error(f"cannot read a column of type OID {oid}")
        decoders.append(_DECODERS[oid])
    rows = []
    string_at, getvalue, getlength = ctypes.string_at, lib.PQgetvalue, lib.PQgetlength
    for row in range(lib.PQntuples(result)):
        values: list[Any] = []
        for column, decode in enumerate(decoders):
            length = getlength(result, row, column)
            # A NULL has length 0, but so has an empty string: ask only then.
            if length == 0 and lib.PQgetisnull(result, row, column):
                values.append(None)
                continue
            raw = string_at(getvalue(result, row, column), length)
            try:
                values.append(decode(raw))
            except (ValueError, OverflowError, StructError) as exc:
                # Say which value, rather than a bare struct or codec error.
                raise Error(f"cannot read a value of column {column + 1}: {exc}") from None
        rows.append(tuple(values))
    return rows
