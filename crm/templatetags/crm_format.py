"""Template filters over crm.formatting: the same money, durations and rates as every other
surface. `{% load crm_format %}`."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

from crm.formatting import format_days, format_duration, format_money, format_rate, plural

register = template.Library()


@register.filter
def money(cents: int | None, currency: str = "USD") -> str:
    """{{ payment.amount_cents|money:payment.currency }} → '$497.00' / 'Q100.00'."""
    if cents is None or cents == "":
        return ""
    return format_money(int(cents), currency or "USD")


@register.filter
def monthly(cents: int | None, currency: str = "USD") -> str:
    """{{ sub.amount_cents|monthly:sub.currency }} → '$97.00 / month'."""
    if cents is None or cents == "":
        return ""
    return format_money(int(cents), currency or "USD", per="month")


@register.filter
def since(at: datetime | None) -> str:
    """How long ago `at` was, as a duration: '17 h', '3 d 4 h'."""
    if at is None:
        return "—"
    return format_duration(timezone.now() - at)


@register.filter
def days(value: float | None) -> str:
    """A number of days as a duration: 3.2 → '3 d 4 h'."""
    return format_days(value)


@register.filter
def rate(value: float | None) -> str:
    """A fraction as a percentage; None (not applicable) → '—'."""
    return format_rate(value)


@register.filter
def count(value: int | None, words: str) -> str:
    """{{ n|count:"photo" }} → '1 photo' / '3 photos'; "reply,replies" names the plural."""
    singular, _, plural_form = words.partition(",")
    return plural(int(value or 0), singular, plural_form)


@register.filter
def recurring(subscription) -> str:
    """{{ subscription|recurring }} → '$97.00 / month' (its amount per billing interval)."""
    return format_money(
        int(subscription.amount_cents), subscription.currency, per=subscription.interval
    )
