"""Durations, ages and sizes for people: the one parser and the two formatters every module uses.

    parse_duration("7days") -> 604800.0     (gc --grace, and ages in --since/--until)
    format_age(created)     -> "5m ago"     (tmt ls, candidate lists of ambiguous refs)
    format_size(1536)       -> "1.5 KiB"    (tmt show/gc/fsck, snapshot warnings)
"""
from __future__ import annotations

import math
import re
TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

#: unit spelling -> seconds; every spelling any tmt option has ever accepted
UNITS = {
    "s": 1, "sec": 1, "secs": 1,
    "m": 60, "min": 60, "mins": 60,
    "h": 3600, "hr": 3600, "hrs": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "wk": 604800, "week": 604800, "weeks": 604800,
}
_DURATION = r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*\Z"  # compiled on first use (re caches it), not by every run
DURATION_HINT = "use a number of seconds or a number with a unit: 90s, 30m, 1h, 2d, 0"
#: beyond this many days, an age is shown as the date
AGE_DATE_AFTER_DAYS = 60


def match_duration(text: str, *, unit_required: bool = False) -> float | None:
    """Seconds of "90s", "30 min", "1.5h", "7days", "2w" (and "3600" unless `unit_required`),
    or None when `text` is no duration (the caller may try other forms, e.g. a date)."""
    m = re.match(_DURATION, text.lower())
    if not m:
        return None
    unit = m.group(2)
    if not unit:
        return None if unit_required else float(m.group(1))
    mult = UNITS.get(unit)
    return None if mult is None else float(m.group(1)) * mult


def parse_duration(value: str | float | int) -> float:
    """Seconds from 3600, "3600", "90s", "30m", "1h", "2d", "1.5h", "7days", "0".

    Raises UsageError for anything else (negative or non-finite numbers included).
    """
    from tmt.errors import UsageError

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise UsageError(f"invalid duration {value!r}: it must be a finite number of seconds, 0 or more")
        return float(value)
    seconds = match_duration(value) if isinstance(value, str) else None
    if seconds is None:
        raise UsageError(f"invalid duration {value!r}", DURATION_HINT)
    return seconds


def format_age(when: datetime | str | float | int | None, now: datetime | float | None = None) -> str:
    """'12s ago', '5m ago', '3h ago', '4d ago'; the date beyond 60 days; '-' when unknown.

    `when` is a datetime (naive means UTC), ISO text or epoch seconds.
    """
    from datetime import datetime, timezone  # listings only: a recorded run never imports it

    if when is None or when == "" or isinstance(when, bool):
        return "-"
    if isinstance(when, (int, float)):
        if not math.isfinite(when):
            return "-"
        try:
            when = datetime.fromtimestamp(when, timezone.utc)
        except (OverflowError, ValueError, OSError):  # beyond year 9999
            return "-"
    elif isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            return "-"
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    if now is None:
        now = datetime.now(timezone.utc)
    elif isinstance(now, (int, float)):
        now = datetime.fromtimestamp(now, timezone.utc)
    try:
        secs = (now - when).total_seconds()
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        return when.date().isoformat()
    if secs < 0:
        return "just now" if secs > -60 else when.date().isoformat()
    if secs < 60:
        return f"{int(secs)}s ago"
    if secs < 3600:
        return f"{int(secs // 60)}m ago"
    if secs < 86400:
        return f"{int(secs // 3600)}h ago"
    if secs < AGE_DATE_AFTER_DAYS * 86400:
        return f"{int(secs // 86400)}d ago"
    try:
        return when.astimezone().date().isoformat()
    except (OverflowError, ValueError, OSError):
        return when.date().isoformat()


def format_size(n: int | float | None) -> str:
    """'0 B', '1023 B', '1.5 KiB', '10.0 MiB', … up to TiB; '-' when unknown."""
    if n is None or isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n):
        return "-"
    if n < 1024:
        return f"{n:.0f} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"
