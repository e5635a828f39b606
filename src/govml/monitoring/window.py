"""Monitoring windows: ``--window 1d`` (ending now) or ``--since T --until T``.

A window is half-open, ``[start, end)``, in UTC. Lengths are a whole number and a unit as
the policy's ``monitoring.window`` writes them (``30m``, ``6h``, ``1d``, ``2w``); times are
ISO 8601 dates or date-times (``2026-11-24``, ``2026-11-24T06:00``, ``...Z`` or with an
offset; a time without an offset is UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from govml.errors import InputError

ERR_LENGTH = (
    "window {value!r} is not a length: write a whole number and a unit m, h, d or w "
    "(30m, 6h, 1d, 2w)"
)
ERR_TIME = "{field} {value!r} is not a date or time: write 2026-11-24 or 2026-11-24T06:00:00Z"
ERR_ORDER = "the window is empty: --since {start} is not before --until {end}"
ERR_BOTH = "give either --window or --since/--until, not both"
ERR_TOO_LONG = "the window is {days} days long; at most {limit} days are read at once"

_LENGTH = re.compile(r"^\s*([1-9][0-9]{0,5})\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_DAYS = 366


def parse_length(value: str) -> timedelta:
    """Return the length written as ``value`` (``30m``, ``6h``, ``1d``, ``2w``).

    Raises
    ------
    InputError
        When ``value`` is not a positive whole number followed by one of m, h, d, w.
    """
    match = _LENGTH.match(value) if isinstance(value, str) else None
    if match is None:
        raise InputError(ERR_LENGTH.format(value=value))
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_time(value: str | datetime | date, *, field: str = "time") -> datetime:
    """Return ``value`` as an aware UTC datetime (a date is its midnight, UTC).

    Raises
    ------
    InputError
        Naming ``field`` when ``value`` is not an ISO 8601 date or date-time.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InputError(ERR_TIME.format(field=field, value=value)) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True, kw_only=True)
class Window:
    """A half-open time window ``[start, end)`` in UTC.

    Attributes
    ----------
    start, end : datetime
        Aware UTC datetimes, ``start < end``.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InputError("window bounds must carry a timezone")
        if self.start >= self.end:
            raise InputError(ERR_ORDER.format(start=_iso(self.start), end=_iso(self.end)))
        days = (self.end - self.start).total_seconds() / 86400
        if days > MAX_DAYS:
            raise InputError(ERR_TOO_LONG.format(days=round(days), limit=MAX_DAYS))

    @classmethod
    def resolve(
        cls,
        *,
        window: str | None,
        since: str | datetime | None,
        until: str | datetime | None,
        now: datetime,
        default: str = "1d",
    ) -> Window:
        """Build the window from the command's options.

        ``--window L`` is the length ``L`` ending at ``--until`` (default: now); ``--since``
        alone runs to now; nothing given means the policy's ``monitoring.window`` (passed
        as ``default``) ending now.

        Raises
        ------
        InputError
            For a malformed length or time, both ``window`` and ``since``, or an empty
            or over-long window.
        """
        if window is not None and since is not None:
            raise InputError(ERR_BOTH)
        end = now if until is None else parse_time(until, field="--until")
        if since is not None:
            return cls(start=parse_time(since, field="--since"), end=end)
        return cls(start=end - parse_length(window or default), end=end)

    def days(self) -> list[date]:
        """Return the UTC dates the window touches (the log's ``date=`` partitions)."""
        last = (self.end - timedelta(microseconds=1)).date()
        day = self.start.date()
        out = []
        while day <= last:
            out.append(day)
            day += timedelta(days=1)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"start", "end"}`` as ISO 8601 strings ending in ``Z``."""
        return {"start": _iso(self.start), "end": _iso(self.end)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Window:
        """Rebuild from :meth:`to_dict` output."""
        return cls(start=parse_time(data["start"]), end=parse_time(data["end"]))

    def __str__(self) -> str:
        return f"{_iso(self.start)} .. {_iso(self.end)}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
