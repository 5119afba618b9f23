"""Due dates of the local Todoist API simulator: dates, times, time zones and recurrence.

A due is `{date, timezone, string, lang, is_recurring}` (Todoist API v1). `date` is `YYYY-MM-DD`
(all day), `YYYY-MM-DDTHH:MM:SS` (a floating time) or `YYYY-MM-DDTHH:MM:SSZ` (UTC, shown in
`timezone`). A `string` holding one of a few rules ("every day", "every 3 weeks", "monthly", ...,
optionally "... at HH:MM") makes the due recurring; no other natural language is understood.

Where Todoist is undocumented the simulator does the worst plausible thing: a due sent with a
date and no `string` is a plain date (any recurrence is dropped), and a date-only due replaces a
timed one whole (the time is dropped).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from todoist_sim.store.errors import invalid

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FLOATING_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_RULE_RE = re.compile(
    r"^every\s+(?:(?P<count>\d+|other)\s+)?(?P<unit>day|week|month|year)s?"
    r"(?:\s+at\s+(?P<hour>\d{1,2}):(?P<minute>\d{2}))?$"
)
_ALIASES = {"daily": "every day", "weekly": "every week", "monthly": "every month"}
_ALIASES["yearly"] = "every year"


@dataclass(frozen=True)
class Rule:
    """A recurrence: every `count` `unit`s, at `time` ("HH:MM:SS") if the rule names one."""

    count: int
    unit: str
    time: str | None = None


def parse_rule(string: str) -> Rule | None:
    """The recurrence a due string names, or None when it names none."""
    text = " ".join(string.strip().lower().split())
    text = _ALIASES.get(text, text)
    for alias, full in _ALIASES.items():
        if text.startswith(alias + " at "):
            text = full + text[len(alias) :]
    match = _RULE_RE.match(text)
    if match is None:
        return None
    raw = match.group("count")
    count = 2 if raw == "other" else int(raw or 1)
    if count < 1:
        return None
    at = None
    if match.group("hour") is not None:
        hour, minute = int(match.group("hour")), int(match.group("minute"))
        if hour > 23 or minute > 59:
            return None
        at = f"{hour:02d}:{minute:02d}:00"
    return Rule(count, match.group("unit"), at)


def _zone(name: Any, argument: str) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise invalid(argument, "timezone must be a time zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(argument, f"unknown time zone {name!r}") from None


def check_date(value: Any, argument: str, *, timed: bool = True) -> str:
    """`value` if it is one of the due date forms (only YYYY-MM-DD unless `timed`)."""
    forms = (_DATE_RE, _FLOATING_RE, _UTC_RE) if timed else (_DATE_RE,)
    if not isinstance(value, str) or not any(form.match(value) for form in forms):
        expected = "YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS or YYYY-MM-DDTHH:MM:SSZ"
        raise invalid(argument, f"expected a date formatted {expected if timed else 'YYYY-MM-DD'}")
    try:
        datetime.fromisoformat(value.removesuffix("Z"))
    except ValueError:
        raise invalid(argument, "not a real calendar date or time") from None
    return value


def make_due(
    day: str,
    string: str | None = None,
    *,
    timezone: Any = None,
    lang: Any = None,
    argument: str = "due",
) -> dict[str, Any]:
    """A due on `day` (already checked). `string` with a rule makes it recurring; a UTC time
    keeps `timezone` (default "UTC"); the other forms have no time zone."""
    zone = None
    if day.endswith("Z"):
        zone = "UTC" if timezone is None else timezone
        _zone(zone, argument)
    if string is not None and not isinstance(string, str):
        raise invalid(argument, "string must be a string")
    string = string if string and string.strip() else None
    return {
        "date": day,
        "timezone": zone,
        "string": string or day,
        "lang": lang if isinstance(lang, str) and lang else "en",
        "is_recurring": string is not None and parse_rule(string) is not None,
    }


def due_from_string(value: Any, argument: str) -> dict[str, Any] | None:
    """A due from a string alone: "no date" (None), a date in one of the forms, or a rule,
    which starts today (at its time, if it names one)."""
    if not isinstance(value, str):
        raise invalid(argument, "expected a string")
    text = value.strip()
    if text.lower() == "no date":
        return None
    if _DATE_RE.match(text) or _FLOATING_RE.match(text) or _UTC_RE.match(text):
        return make_due(check_date(text, argument), value, argument=argument)
    rule = parse_rule(text)
    if rule is None:
        raise invalid(
            argument,
            'the simulator understands only "no date", a date, or a rule such as '
            '"every day", "every 2 weeks" or "every month at 10:00"',
        )
    today = datetime.now(UTC).date().isoformat()
    return make_due(today + (f"T{rule.time}" if rule.time else ""), value, argument=argument)


def _add(day: date, rule: Rule) -> date:
    if rule.unit == "day":
        return day + timedelta(days=rule.count)
    if rule.unit == "week":
        return day + timedelta(weeks=rule.count)
    months = rule.count * (12 if rule.unit == "year" else 1)
    return add_months(day, months)


def add_months(day: date, months: int) -> date:
    """`day` moved by `months`, kept within the month (Jan 31 + 1 month = Feb 28 or 29)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def next_occurrence(due: dict[str, Any]) -> dict[str, Any]:
    """The recurring `due` moved on by its rule, keeping its time of day (for a UTC time: the
    time of day in its time zone, across daylight saving changes) and its time zone."""
    rule = parse_rule(due["string"])
    if rule is None:
        return dict(due)
    value: str = due["date"]
    if _DATE_RE.match(value):
        moved = _add(date.fromisoformat(value), rule).isoformat()
    elif value.endswith("Z"):
        zone = ZoneInfo(due["timezone"] or "UTC")
        local = datetime.fromisoformat(value.removesuffix("Z")).replace(tzinfo=UTC).astimezone(zone)
        day = _add(local.date(), rule)
        shifted = datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=zone)
        moved = shifted.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        day_text, _, clock = value.partition("T")
        moved = f"{_add(date.fromisoformat(day_text), rule).isoformat()}T{clock}"
    return {**due, "date": moved}
