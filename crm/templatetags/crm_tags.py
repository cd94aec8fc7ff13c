"""Small template helpers for the staff pages."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.simple_tag
def url_or_none(name: str, *args) -> str | None:
    """`{% url_or_none 'sites:generate' as u %}`: the URL, or None while the name does not
    exist yet (another app's page), so a page never fails over a missing link."""
    try:
        return reverse(name, args=args or None)
    except NoReverseMatch:
        return None


@register.filter
def ago(value: datetime | None) -> str:
    """'2 days ago' (first unit only); '—' for no date. Cheaper than naturaltime per row."""
    if not value:
        return "—"
    now = timezone.now()
    if value > now:
        return "just now"
    text = timesince(value, now, depth=1)
    return "just now" if text.startswith("0\xa0") else f"{text} ago"


@register.filter
def humanize_status(value: str | None) -> str:
    return (value or "").replace("_", " ").capitalize()


@register.simple_tag
def sort_param(current: str, key: str) -> str:
    """The sort value a column header links to: toggles direction on the active column,
    otherwise the column's natural first direction (text ascending, numbers/dates descending)."""
    if current == key:
        return f"-{key}"
    if current == f"-{key}":
        return key
    return key if key in {"name", "city", "status"} else f"-{key}"


@register.simple_tag
def sort_state(current: str, key: str) -> str:
    """aria-sort value for a column header."""
    if current == key:
        return "ascending"
    if current == f"-{key}":
        return "descending"
    return "none"


@register.filter
def pct(part: int | None, whole: int | None) -> str:
    if not whole:
        return "—"
    return f"{100 * (part or 0) / whole:.1f}%"


@register.filter
def bar_width(part: int | None, whole: int | None) -> str:
    """Percentage width for a funnel bar, at least a sliver so zero stays visible."""
    if not whole:
        return "0.5"
    return f"{max(0.5, 100 * (part or 0) / whole):.1f}"
