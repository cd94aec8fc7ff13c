"""Writes on leads other than status changes: create, find (dedupe), update contact data.

Dedupe order (DESIGN.md / the site builder, import and link_orphan_sites all use it):
gmb_place_id, then normalised phone, then own-website domain, then name + city.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from crm import scoring
from crm.contact import NO_PHONE, contact_fields, email_clean, phone_clean
from crm.lifecycle import lead_event_add
from crm.models import Business, EventSource, LeadEvent, LeadEventKind, WebsiteKind
from crm.normalize import name_city_key, website_host, website_url

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


# A text value longer than this is not scraped data but garbage (or an attack); the row is
# refused. (Shorter overlong values are cut to the column's length.)
TEXT_MAX = 10_000
TEXT_FIELDS = (
    "name", "email", "phone", "website", "address", "city", "state", "country",
    "postal_code", "category", "gmb_place_id",
)  # fmt: skip


def _texts(data: dict[str, Any]) -> dict[str, str]:
    """The text fields of `data` as stripped strings; a number is written out, anything
    else (an object, a list, true/false) is an error naming the field."""
    texts = {}
    for name in TEXT_FIELDS:
        value = data.get(name)
        if value is None:
            value = ""
        elif isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
            raise InvalidBusinessData(f"{name} must be text, not {_json_type(value)}")
        value = str(value).strip()
        if len(value) > TEXT_MAX:
            raise InvalidBusinessData(f"{name} is {len(value):,} characters long")
        texts[name] = value
    return texts


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def business_fields(data: dict[str, Any], *, dropped: list[str] | None = None) -> dict[str, Any]:
    """Clean scraped data into Business field values (normalised keys included).

    Contact data goes through crm.contact: an invalid email or phone is dropped (never
    stored, never scored as known), with a line appended to `dropped` when given."""
    texts = _texts(data)
    name = texts["name"]
    if not name:
        raise InvalidBusinessData("name is required")
    country = texts["country"].upper()[:2] or "US"
    contact, problems = contact_fields(email=texts["email"], phone=texts["phone"], country=country)
    if dropped is not None:
        dropped.extend(problems)
    website = website_url(texts["website"])
    kind = scoring.classify_website(website)
    fields: dict[str, Any] = {
        "name": name[:255],
        "email": contact["email"],
        "phone": contact["phone"][:40],
        "phone_normalized": contact["phone_normalized"],
        "website": website[:500],
        "website_domain": website_host(website) if kind == WebsiteKind.OWN else "",
        "website_kind": kind,
        "address": texts["address"][:500],
        "city": texts["city"][:120],
        "state": texts["state"][:80],
        "country": country,
        "postal_code": texts["postal_code"][:20],
        "category": texts["category"][:120],
        "rating": _decimal_rating(data.get("rating")),
        "review_count": _count(data.get("review_count"), "review_count"),
        "photo_count": _count(data.get("photo_count"), "photo_count"),
        "hours": data.get("hours") or {},
        "services": data.get("services") or [],
        "gmb_place_id": texts["gmb_place_id"][:255] or None,
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


# --- stored contact data ----------------------------------------------------------------------

CLEAN_BATCH = 2000
CLEAN_FIELDS = ("email", "phone", "phone_normalized", "qualification_score", "score_breakdown")


@dataclass
class ContactCleanup:
    checked: int = 0
    changed: int = 0
    emails_dropped: int = 0
    phones_dropped: int = 0
    phones_normalised: int = 0
    lines: list[str] = field(default_factory=list)  # one per changed lead: what and why


def businesses_clean_contacts(*, dry_run: bool = False) -> ContactCleanup:
    """Run every stored lead's email and phone through crm.contact (as if it entered now):
    an invalid value is dropped, a valid phone gets its E.164 form, the score follows. One
    timeline line per changed lead; leads already clean are not touched."""
    summary = ContactCleanup()
    qs = Business.objects.order_by("pk").only(
        "pk", "email", "phone", "phone_normalized", "country", "website_kind", "rating",
        "review_count", "recent_review_count", "photo_count", "qualification_score",
        "score_breakdown",
    )  # fmt: skip
    with transaction.atomic():
        dirty: list[Business] = []
        events: list[LeadEvent] = []
        for lead in qs.iterator(chunk_size=CLEAN_BATCH):
            summary.checked += 1
            notes = _clean_contact(lead, summary)
            if notes:
                summary.changed += 1
                summary.lines.append(f"lead #{lead.pk}: {'; '.join(notes)}")
                lead.qualification_score, lead.score_breakdown = scoring.score_business(lead)
                dirty.append(lead)
                events.append(
                    LeadEvent(
                        business_id=lead.pk,
                        kind=LeadEventKind.UPDATED,
                        source=EventSource.COMMAND,
                        summary=f"Contact data cleaned: {'; '.join(notes)}"[:500],
                        data={"cleaned": notes},
                    )
                )
            if len(dirty) >= CLEAN_BATCH:
                _clean_write(dirty, events, dry_run)
                dirty, events = [], []
        _clean_write(dirty, events, dry_run)
    return summary


def _clean_contact(lead: Business, summary: ContactCleanup) -> list[str]:
    notes = []
    try:
        email = email_clean(lead.email)
    except ValidationError as exc:
        email = ""
        summary.emails_dropped += 1
        notes.append(f"email dropped: {'; '.join(exc.messages)}")
    if email != lead.email and lead.email and email:
        notes.append(f"email normalised to {email}")
    lead.email = email
    try:
        number = phone_clean(lead.phone, lead.country or "US")
    except ValidationError as exc:
        number = NO_PHONE
        summary.phones_dropped += 1
        notes.append(f"phone dropped: {'; '.join(exc.messages)}")
    if number.e164 and number.e164 != lead.phone_normalized:
        summary.phones_normalised += 1
        notes.append(f"phone normalised to {number.e164}")
    if not number.e164 and lead.phone_normalized and not lead.phone:
        notes.append("stale normalised phone removed")
    lead.phone, lead.phone_normalized = number.display, number.e164
    return notes


def _clean_write(dirty: list[Business], events: list[LeadEvent], dry_run: bool) -> None:
    if dry_run or not dirty:
        return
    now = timezone.now()
    for lead in dirty:
        lead.updated_at = now
    Business.objects.bulk_update(dirty, [*CLEAN_FIELDS, "updated_at"], batch_size=CLEAN_BATCH)
    LeadEvent.objects.bulk_create(events, batch_size=CLEAN_BATCH)
