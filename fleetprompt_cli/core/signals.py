"""Signals: the envelope, the type grammar and subscription patterns (pure).

A signal is an immutable event with a CloudEvents 1.0 envelope (``id``,
``source``, ``specversion``, ``type``, ``subject``, ``time``,
``datacontenttype``, ``data``) plus fleetprompt's extensions: ``tenant``, the
per-tenant ``sequence`` and the ``correlationid`` / ``causationid`` of the
directive (or signal) that caused it.  CloudEvents extension names are
lower-case letters and digits only, so the store's ``correlation_id`` is
``correlationid`` in the JSON form (docs/signals.md).

Types are lower-case dot-separated segments ``[a-z0-9_]+``, at least two
(``field_service.job.completed``); the ``fleetprompt.`` namespace is the
tool's own.  A subscription pattern is a type, or a prefix ending in ``.*``
that matches every type with one or more further segments.

Reading the log never imports pydantic (~80 ms, most of a ``signals`` run):
:func:`stored_cloudevent` builds a stored signal's JSON form from its row,
and :class:`SignalEnvelope`, the validating model, is defined (and pydantic
imported) the first time something asks for it.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

from fleetprompt_cli.errors import InvalidInput

__all__ = [
    "MAX_DATA_BYTES",
    "MAX_DATA_DEPTH",
    "MAX_SUBJECT",
    "MAX_TYPE",
    "RESERVED_PREFIX",
    "SignalEnvelope",  # noqa: F822 - defined on first use (__getattr__ below)
    "check_pattern",
    "check_type",
    "cloudevent",
    "is_reserved",
    "matches",
    "matches_any",
    "parse_data",
    "stored_cloudevent",
]

RESERVED_PREFIX = "fleetprompt."
MAX_TYPE = 200
MAX_SUBJECT = 500
MAX_SOURCE = 500
MAX_ID = 200
# A custom signal's data: JSON, at most this many bytes and this deep.
MAX_DATA_BYTES = 64 * 1024
MAX_DATA_DEPTH = 32

_TYPE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*\.\*$")
_GRAMMAR = "lower-case dot-separated segments [a-z0-9_]+, at least two (e.g. 'crm.lead.qualified')"


def check_type(value: str, *, what: str = "signal type") -> str:
    """``value`` if it follows the type grammar, else InvalidInput naming it."""
    if not isinstance(value, str) or len(value) > MAX_TYPE or not _TYPE.fullmatch(value):
        shown = value[:80] if isinstance(value, str) else value
        raise InvalidInput(
            f"invalid {what} {shown!r}: expected {_GRAMMAR}, at most {MAX_TYPE} characters",
            details={"field": "type", "value": shown},
        )
    return value


def check_pattern(value: str) -> str:
    """A subscription pattern: a type, or a prefix of segments ending in ``.*``."""
    if isinstance(value, str) and len(value) <= MAX_TYPE and _PATTERN.fullmatch(value):
        return value
    return check_type(value, what="signal type pattern")


def is_reserved(type_: str) -> bool:
    """Whether a type is in the tool's own ``fleetprompt.`` namespace."""
    return type_.startswith(RESERVED_PREFIX)


def matches(pattern: str, type_: str) -> bool:
    """Whether ``type_`` matches ``pattern`` (exact, or ``prefix.*``: one or more segments more)."""
    if pattern.endswith(".*"):
        return type_.startswith(pattern[:-1]) and len(type_) > len(pattern) - 1
    return pattern == type_


def matches_any(patterns: list[str], type_: str) -> bool:
    return any(matches(p, type_) for p in patterns)


def _depth(value: Any, limit: int) -> int:
    # Iterative, so a hostile document cannot exhaust the stack.
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > limit:
            return depth
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _finite(value: str) -> Any:
    raise ValueError(f"{value} is not a JSON number")


def parse_data(text: str, *, where: str = "--data") -> Any:
    """Parse a signal's JSON data: bounded size and depth, no NaN/Infinity."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DATA_BYTES:
        raise InvalidInput(
            f"{where}: more than {MAX_DATA_BYTES} bytes of JSON", details={"field": where}
        )
    try:
        value = json.loads(text, parse_constant=_finite)
    except RecursionError:
        raise InvalidInput(
            f"{where}: JSON nested deeper than {MAX_DATA_DEPTH} levels", details={"field": where}
        ) from None
    except ValueError as error:
        raise InvalidInput(f"{where}: not valid JSON: {error}", details={"field": where}) from None
    if _depth(value, MAX_DATA_DEPTH) > MAX_DATA_DEPTH:
        raise InvalidInput(
            f"{where}: JSON nested deeper than {MAX_DATA_DEPTH} levels", details={"field": where}
        )
    if isinstance(value, float) and not math.isfinite(value):  # pragma: no cover - parse_constant
        raise InvalidInput(f"{where}: not a finite number", details={"field": where})
    return value


def _rfc3339(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def cloudevent(envelope: Any) -> dict[str, Any]:
    """CloudEvents 1.0 JSON of a SignalEnvelope: required attributes, optional ones when set,
    our extensions."""
    return stored_cloudevent(envelope, envelope.tenant)


def stored_cloudevent(row: Any, tenant: str) -> dict[str, Any]:
    """A stored signal (an ORM model or a plain row) in its CloudEvents JSON form.

    What :func:`cloudevent` makes of the signal's envelope, without building
    the model (nor importing pydantic): the row was checked when it was
    written.  ``row`` has the envelope's attributes but ``tenant``; rows carry
    the tenant's id, the document its name.
    """
    document: dict[str, Any] = {
        "specversion": row.specversion,
        "id": row.id,
        "source": row.source,
        "type": row.type,
    }
    if row.subject is not None:
        document["subject"] = row.subject
    document["time"] = _rfc3339(row.time)
    document["datacontenttype"] = row.datacontenttype
    document["data"] = row.data
    document["tenant"] = tenant
    document["sequence"] = row.sequence
    document["correlationid"] = row.correlation_id
    document["causationid"] = row.causation_id
    return document


@cache
def _envelope_model() -> type:
    # Imported here, on first use only: see the module's docstring.
    from pydantic import BaseModel, ConfigDict, Field, field_validator

    class SignalEnvelope(BaseModel):
        """One signal as written: CloudEvents 1.0 attributes plus fleetprompt's extensions."""

        model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

        specversion: Literal["1.0"] = "1.0"
        id: str = Field(min_length=1, max_length=MAX_ID)
        source: str = Field(min_length=1, max_length=MAX_SOURCE)
        type: str
        subject: str | None = Field(default=None, max_length=MAX_SUBJECT)
        time: datetime
        datacontenttype: str = "application/json"
        data: Any = None
        tenant: str
        sequence: int = Field(ge=1)
        correlation_id: str | None = Field(default=None, max_length=MAX_ID)
        causation_id: str | None = Field(default=None, max_length=MAX_ID)

        @field_validator("type")
        @classmethod
        def _type(cls, value: str) -> str:
            try:
                return check_type(value)
            except InvalidInput as error:
                raise ValueError(str(error)) from None

        @field_validator("time")
        @classmethod
        def _aware(cls, value: datetime) -> datetime:
            if value.tzinfo is None:
                raise ValueError("time must be timezone-aware")
            return value.astimezone(UTC)

        def to_cloudevent(self) -> dict[str, Any]:
            """The CloudEvents JSON form (structured mode), extensions included."""
            return cloudevent(self)

    # Named as if defined at the top of this module (reprs, pickling).
    SignalEnvelope.__module__, SignalEnvelope.__qualname__ = __name__, "SignalEnvelope"
    return SignalEnvelope


def __getattr__(name: str) -> Any:
    # ``core.signals.SignalEnvelope`` (and ``from ... import SignalEnvelope``)
    # define the model on first use (PEP 562), so that only code that builds
    # or validates an envelope pays for pydantic.
    if name == "SignalEnvelope":
        return _envelope_model()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
