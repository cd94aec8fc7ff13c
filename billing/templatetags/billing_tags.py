"""Money display for templates: exact integer cents with the currency's symbol."""

from __future__ import annotations

from django import template

from billing.queries import format_money
from billing.services import Price, price_current

register = template.Library()


@register.filter
def money(cents: int | None, currency: str = "USD") -> str:
    """{{ payment.amount_cents|money:payment.currency }} → "$497.00" / "Q100.00"."""
    if cents is None or cents == "":
        return ""
    return format_money(int(cents), currency or "USD")


@register.simple_tag
def purchase_price() -> Price:
    """{% purchase_price as price %}: the plan offered on preview pages (from settings)."""
    return price_current()
