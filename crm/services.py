"""Writes on leads other than status changes: create, find (dedupe), update contact data.

Dedupe order (DESIGN.md / the site builder, import and link_orphan_sites all use it):
gmb_place_id, then normalised phone, then own-website domain, then name + city.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from crm import scoring
from crm.lifecycle import lead_event_add
from crm.models import Business, EventSource, LeadEventKind, WebsiteKind
from crm.normalize import email_normalized, name_city_key, phone_e164, website_host, website_url

# The fields a caller may pass in `data` (anything else is ignored).
DATA_FIELDS = (
    "name",
    "email",
    "phone",
    "website",
    "address",
    "city",
    "state",
    "country",
    "postal_code",
    "latitude",
    "longitude",
    "category",
    "rating",
    "review_count",
    "photo_count",
    "recent_review_count",
    "hours",
    "services",
    "gmb_place_id",
)


class InvalidBusinessData(ValueError):
    """The data cannot make a lead (e.g. no name). The message says which field."""


def _decimal_rating(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        rating = Decimal(str(value)).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError):
        raise InvalidBusinessData(f"rating {value!r} is not a number") from None
    if not Decimal("0") <= rating <= Decimal("5"):
        raise InvalidBusinessData(f"rating {value!r} is outside 0–5")
    return rating


def _count(value: Any, field: str) -> int:
    if value in (None, ""):
        return 0
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        raise InvalidBusinessData(f"{field} {value!r} is not a number") from None
    if number < 0:
        raise InvalidBusinessData(f"{field} {value!r} is negative")
    return number


def business_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Clean scraped data into Business field values (normalised keys included)."""
    name = str(data.get("name") or "").strip()
    if not name:
        raise InvalidBusinessData("name is required")
    country = str(data.get("country") or "US").strip().upper()[:2] or "US"
    phone = str(data.get("phone") or "").strip()
    website = website_url(str(data.get("website") or ""))
    kind = scoring.classify_website(website)
    fields: dict[str, Any] = {
        "name": name[:255],
        "email": email_normalized(str(data.get("email") or ""))[:254],
        "phone": phone[:40],
        "phone_normalized": phone_e164(phone, country),
        "website": website[:500],
        "website_domain": website_host(website) if kind == WebsiteKind.OWN else "",
        "website_kind": kind,
        "address": str(data.get("address") or "").strip()[:500],
        "city": str(data.get("city") or "").strip()[:120],
        "state": str(data.get("state") or "").strip()[:80],
        "country": country,
        "postal_code": str(data.get("postal_code") or "").strip()[:20],
        "category": str(data.get("category") or "").strip()[:120],
        "rating": _decimal_rating(data.get("rating")),
        "review_count": _count(data.get("review_count"), "review_count"),
        "photo_count": _count(data.get("photo_count"), "photo_count"),
        "hours": data.get("hours") or {},
        "services": data.get("services") or [],
        "gmb_place_id": (str(data.get("gmb_place_id") or "").strip() or None),
    }
    recent = data.get("recent_review_count")
    fields["recent_review_count"] = None if recent in (None, "") else _count(recent, "recent")
    for coord in ("latitude", "longitude"):
        value = data.get(coord)
        try:
            fields[coord] = float(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            raise InvalidBusinessData(f"{coord} {value!r} is not a number") from None
    fields["name_city_key"] = name_city_key(fields["name"], fields["city"])
    fields["qualification_score"], fields["score_breakdown"] = scoring.score(
        website_kind=kind,
        phone=fields["phone"],
        email=fields["email"],
        rating=fields["rating"],
        review_count=fields["review_count"],
        recent_review_count=fields["recent_review_count"],
        photo_count=fields["photo_count"],
    )
    return fields


def business_match(fields: dict[str, Any]) -> Business | None:
    """The existing lead these fields describe, by the dedupe order, or None."""
    qs = Business.objects.all()
    if fields.get("gmb_place_id"):
        found = qs.filter(gmb_place_id=fields["gmb_place_id"]).first()
        if found:
            return found
    if fields.get("phone_normalized"):
        found = qs.filter(phone_normalized=fields["phone_normalized"]).order_by("pk").first()
        if found:
            return found
    if fields.get("website_domain"):
        found = qs.filter(website_domain=fields["website_domain"]).order_by("pk").first()
        if found:
            return found
    if fields.get("name_city_key"):
        return qs.filter(name_city_key=fields["name_city_key"]).order_by("pk").first()
    return None


def slug_base(name: str, city: str = "") -> str:
    return (slugify(f"{name} {city}".strip()) or "lead")[:100].strip("-") or "lead"


def slug_first_free(base: str, taken: set[str]) -> str:
    """`base`, or `base-2`, `base-3`… the first not in `taken`."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def unique_slug(base: str, taken: set[str] | None = None) -> str:
    """`base`, or `base-2`, `base-3`… the first not used by a Business (nor in `taken`)."""
    existing = set(
        Business.objects.filter(slug__startswith=base).values_list("slug", flat=True)
    ) | (taken or set())
    return slug_first_free(base, existing)


def created_event(
    *, source: str, event_source: str, at: datetime | None = None, actor=None
) -> dict[str, Any]:
    """The LeadEvent fields of a lead's first timeline line."""
    return {
        "kind": LeadEventKind.CREATED,
        "source": event_source,
        "summary": f"Lead created from {source}",
        "at": at,
        "actor": actor,
        "data": {"source": source},
    }


def business_create(
    *, data: dict[str, Any], source: str, actor=None, event_source: str = EventSource.SYSTEM
) -> Business:
    """Create a lead (pending / none) with a timeline entry."""
    fields = business_fields(data)
    base = slug_base(fields["name"], fields["city"])
    for _ in range(5):  # a concurrent creator may take the same slug
        try:
            with transaction.atomic():
                business = Business.objects.create(
                    slug=unique_slug(base), source=source[:40], **fields
                )
                lead_event_add(
                    business=business,
                    **created_event(source=source, event_source=event_source, actor=actor),
                )
                return business
        except IntegrityError as exc:
            if (
                fields.get("gmb_place_id")
                and Business.objects.filter(gmb_place_id=fields["gmb_place_id"]).exists()
            ):
                raise InvalidBusinessData(
                    f"a lead with gmb_place_id {fields['gmb_place_id']} already exists"
                ) from exc
    raise InvalidBusinessData(f"could not find a free slug for {base!r}")


def business_find_or_create(
    *, data: dict[str, Any], source: str, actor=None, event_source: str = EventSource.SYSTEM
) -> tuple[Business, bool]:
    """The lead these data describe (dedupe order above), created if there is none."""
    fields = business_fields(data)
    found = business_match(fields)
    if found is not None:
        return found, False
    try:
        return business_create(
            data=data, source=source, actor=actor, event_source=event_source
        ), True
    except InvalidBusinessData:
        found = business_match(fields)  # lost a race with a concurrent creator
        if found is None:
            raise
        return found, False
