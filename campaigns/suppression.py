"""The global suppression list: every send checks it; opt-outs and hard bounces add to it.

Values are stored normalised (lowercased email, E.164 phone, lowercased domain), so a lead
deleted and imported again is still suppressed.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from campaigns.models import Suppression, SuppressionKind
from crm.normalize import email_domain, email_normalized, phone_e164

Kind = SuppressionKind


def suppression_value(kind: str, value: str) -> str:
    """`value` as the list stores it for `kind`."""
    if kind == Kind.EMAIL:
        return email_normalized(value)
    if kind == Kind.PHONE:
        return phone_e164(value) or value.strip()
    if kind == Kind.DOMAIN:
        return value.strip().lower().lstrip("@")
    raise ValueError(f"unknown suppression kind {kind!r}")


def suppression_add(*, kind: str, value: str, reason: str, source: str = "") -> bool:
    """Add a value to the list (idempotent). Returns True when it was not there before."""
    value = suppression_value(kind, value)
    if not value:
        return False
    _, created = Suppression.objects.get_or_create(
        kind=kind, value=value, defaults={"reason": reason[:40], "source": source[:40]}
    )
    return created


def is_suppressed(*, email: str = "", phone: str = "") -> bool:
    """Whether this email (or its domain) or phone is on the list."""
    condition = Q(pk__in=[])
    if email:
        condition |= Q(kind=Kind.EMAIL, value=email_normalized(email))
        if domain := email_domain(email):
            condition |= Q(kind=Kind.DOMAIN, value=domain)
    if phone and (normalised := phone_e164(phone)):
        condition |= Q(kind=Kind.PHONE, value=normalised)
    return Suppression.objects.filter(condition).exists()


def suppressed_business_condition() -> Q:
    """A Q on Business matching leads whose email, email domain or phone is suppressed.
    Used set-based by audience building (no per-lead query)."""
    emails = Suppression.objects.filter(kind=Kind.EMAIL, value=OuterRef("email"))
    phones = Suppression.objects.filter(kind=Kind.PHONE, value=OuterRef("phone_normalized"))
    return Q(Exists(emails)) | Q(Exists(phones))
