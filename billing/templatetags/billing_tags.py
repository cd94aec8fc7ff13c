"""Billing bits for templates: the plan offered on preview pages, and money (crm_format's
one filter, so `{% load billing_tags %}` pages format money like every other page)."""

from __future__ import annotations

from django import template

from billing.services import Price, price_current
from crm.templatetags.crm_format import money

register = template.Library()
register.filter("money", money)


@register.simple_tag
def purchase_price() -> Price:
    """{% purchase_price as price %}: the plan offered on preview pages (from settings)."""
    return price_current()
