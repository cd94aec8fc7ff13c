"""The one period model of the dashboard, analytics, pipeline, CSV exports and API.

Periods are whole days in CRM_TIME_ZONE (default TIME_ZONE):

- Today, This week (calendar, from Monday) and This month (calendar) start at that day's,
  week's or month's local midnight;
- Last 7 / 30 / 90 days are that many calendar days, today included;
- Last 12 months starts the day after the same date a year ago;
- All time has no start; a custom range runs from its first to its last day, both included.

Open periods run up to now. `since` / `until` are the aware instants a query compares
timestamps with (`since <= t < until`); `first_day` / `last_day` the local days the day
tallies (crm.tallies) and the lead table's date filters use, so every surface draws the
same line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.http import urlencode

PRESETS: dict[str, str] = {
    "today": "Today",
    "week": "This week",
    "month": "This month",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "365d": "Last 12 months",
    "all": "All time",
}
CUSTOM = "custom"
KEYS = (*PRESETS, CUSTOM)


def crm_zone() -> ZoneInfo:
    return ZoneInfo(settings.CRM_TIME_ZONE)


def local_today(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(crm_zone()).date()


def day_start(day: date) -> datetime:
    """The aware instant a local day begins (its midnight in CRM_TIME_ZONE)."""
    return datetime.combine(day, time.min, tzinfo=crm_zone())


def _day_text(day: date, *, year: bool = True) -> str:
    return f"{day.day} {day:%b}" + (f" {day.year}" if year else "")


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    first_day: date | None  # None: from the beginning
    last_day: date | None  # None: up to now

    @property
    def since(self) -> datetime | None:
        return day_start(self.first_day) if self.first_day else None

    @property
    def until(self) -> datetime | None:
        return day_start(self.last_day + timedelta(days=1)) if self.last_day else None

    @property
    def is_all(self) -> bool:
        return self.first_day is None and self.last_day is None

    @property
    def span(self) -> str:
        """The days it covers, for labels: '8 Jun – 14 Jun 2026', 'since 1 Jun 2026'."""
        if self.is_all:
            return "every day"
        first, last = self.first_day, self.last_day
        if first and last:
            if first == last:
                return _day_text(first)
            return f"{_day_text(first, year=first.year != last.year)} – {_day_text(last)}"
        if first:
            return f"since {_day_text(first)}"
        return f"until {_day_text(last)}"  # type: ignore[arg-type]

    @property
    def title(self) -> str:
        """'This week (8 Jun – now)'-style heading: which period, and which days."""
        if self.is_all:
            return self.label
        if self.key == CUSTOM:
            return self.span
        return f"{self.label} ({self.span})"

    def params(self) -> dict[str, str]:
        """Its query parameters (period=…, or period=custom&from=…&to=…)."""
        if self.key != CUSTOM:
            return {"period": self.key}
        out = {"period": CUSTOM}
        if self.first_day:
            out["from"] = self.first_day.isoformat()
        if self.last_day:
            out["to"] = self.last_day.isoformat()
        return out

    def lead_filter_params(self) -> dict[str, str]:
        """The lead table's filters for the leads created in this period."""
        out = {}
        if self.first_day:
            out["created_after"] = self.first_day.isoformat()
        if self.last_day:
            out["created_before"] = self.last_day.isoformat()
        return out

    def contains(self, at: datetime | None) -> bool:
        if at is None:
            return False
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)

    def filter(self, qs: QuerySet, field: str) -> QuerySet:
        """`qs` limited to rows whose `field` (a timestamp) falls in the period."""
        if self.since is not None:
            qs = qs.filter(**{f"{field}__gte": self.since})
        if self.until is not None:
            qs = qs.filter(**{f"{field}__lt": self.until})
        return qs


def _as_day(value: date | str | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{name} must be a date (YYYY-MM-DD), got {value!r}.") from None


def _year_ago(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def period_parse(
    key: str | None,
    *,
    start: date | str | None = None,
    end: date | str | None = None,
    default: str = "90d",
    now: datetime | None = None,
) -> Period:
    """A period key (today, week, month, 7d, 30d, 90d, 365d, all) or a custom range
    (`start` / `end` days, either open) → Period. Raises ValueError naming what is wrong."""
    first, last = _as_day(start, "from"), _as_day(end, "to")
    ranged = first is not None or last is not None
    key = key or (CUSTOM if ranged else default)
    if key == CUSTOM:
        if not ranged:
            raise ValueError("A custom period needs a from date, a to date or both.")
        if first and last and first > last:
            raise ValueError("The from date is after the to date.")
        return Period(CUSTOM, "Custom range", first, last)
    if key not in PRESETS:
        raise ValueError(f"Unknown period {key!r}: use one of {', '.join(KEYS)}.")
    if ranged:
        raise ValueError("Give either a period or a from–to range, not both.")
    today = local_today(now)
    first_day = {
        "today": today,
        "week": today - timedelta(days=today.weekday()),
        "month": today.replace(day=1),
        "7d": today - timedelta(days=6),
        "30d": today - timedelta(days=29),
        "90d": today - timedelta(days=89),
        "365d": _year_ago(today) + timedelta(days=1),
        "all": None,
    }[key]
    return Period(key, PRESETS[key], first_day, None)


def period_from_params(params, *, default: str = "90d", now: datetime | None = None) -> Period:
    """The period a page's or an endpoint's query string asks for: `period`, or `from` /
    `to` (a custom range). Raises ValueError."""
    return period_parse(
        params.get("period") or None,
        start=params.get("from") or None,
        end=params.get("to") or None,
        default=default,
        now=now,
    )


def period_choices(current: Period, params: dict[str, str]) -> dict:
    """What a period picker renders (templates/components/period_picker.html): a link per
    preset keeping the page's other parameters, and the custom range's form values."""
    keep = {k: v for k, v in params.items() if k not in ("period", "from", "to") and v}
    return {
        "current": current,
        "presets": [
            {
                "key": key,
                "label": label,
                "url": "?" + urlencode({**keep, "period": key}),
                "active": key == current.key,
            }
            for key, label in PRESETS.items()
        ],
        "keep": keep,
        "from": current.first_day.isoformat() if current.first_day else "",
        "to": current.last_day.isoformat() if current.last_day else "",
        "zone": settings.CRM_TIME_ZONE,
    }
