"""A lead, from its scrape to its row: the scraped profile is made up here, everything
derived from it is the product's own code (crm.services.business_fields: normalised keys,
website kind, the one score), and its statuses are what its story makes of them."""

from __future__ import annotations

import bisect
import random
from datetime import timedelta
from typing import Any

from crm.lifecycle import opt_in_event
from crm.models import Business, EventSource, LeadEvent
from crm.services import business_fields, created_event, slug_base, slug_first_free
from sites.models import Site
from webmagic.demo import outreach, sites
from webmagic.demo.data import (
    CATEGORIES,
    CATEGORY_CUM,
    CATEGORY_HOURS,
    CITIES,
    CITY_CUM,
    FIRST_NAMES,
    FREEMAIL,
    ORPHAN_KEY,
    RATINGS,
    SOURCE_CUM,
    SOURCES,
    SPANISH,
    STREETS,
    SURNAMES,
    WORLD_DAYS,
    Category,
    P,
)
from webmagic.demo.story import LeadStory


def pick(rng: random.Random, cum: list[float], items):
    return items[bisect.bisect(cum, rng.random() * cum[-1])]


def one_of(rng: random.Random, items):
    return items[int(rng.random() * len(items))]


def hex_id(rng: random.Random, bits: int = 64) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def lead(world) -> None:
    """Simulate one lead: scraped, scored, maybe a preview site, maybe contacted, and all
    that followed; then write its row, its site and its timeline."""
    rng = world.rng
    created = world.now - timedelta(seconds=rng.random() * WORLD_DAYS * 86400)
    source = pick(rng, SOURCE_CUM, SOURCES)[0]
    category = pick(rng, CATEGORY_CUM, CATEGORIES)
    fields, slug = _scraped(world, category, source)
    owner = one_of(rng, world.owners) if rng.random() < P["owner"] else None
    business_id = world.tables[Business].reserve()
    story = LeadStory(created)
    story.line(created_event(source=source, event_source=EventSource.COMMAND, at=created))
    qualified = fields["qualification_score"] >= world.qualified_score
    lead_row = Business(id=business_id, slug=slug, **fields)
    site = sites.preview_site(world, story, lead_row, created, qualified=qualified)
    sms_consent = None
    if fields["phone"] and rng.random() < P["sms_consent_other"]:
        sms_consent = created + timedelta(seconds=rng.random() * 3600)
    if site is not None:
        sms_consent = _pitch(world, story, lead_row, site, qualified, owner, sms_consent)
    if sms_consent is not None:
        story.line(opt_in_event(source=EventSource.COMMAND, at=sms_consent))
    row = _business_row(world, story, fields, slug=slug, created=created, source=source)
    world.tables[Business].put(
        business_id, {**row, "owner_id": owner, "sms_consent_at": sms_consent}
    )
    if site is not None:
        world.tables[Site].put(site["id"], site)
    for line in story.timeline(business_id):
        world.tables[LeadEvent].add(**line)


def _pitch(world, story, lead_row, site, qualified, owner, sms_consent):
    """A lead with a preview site is contacted (or its site archived by staff). Returns the
    SMS consent, recorded when the pitch goes out by SMS."""
    rng = world.rng
    contacted = rng.random() < (P["contact_if_qualified"] if qualified else P["contact_if_not"])
    if not contacted:
        archive_p = P["archived_site"] / (1 - P["contact_if_qualified"])
        if rng.random() < archive_p:
            sites.archive(world, story, site, owner)
        return sms_consent
    channel = outreach.channel_for(world, lead_row)
    if channel == "sms" and sms_consent is None:
        sms_consent = story.created + timedelta(seconds=rng.random() * 3600)
    if channel:
        send_at = site["created_at"] + timedelta(hours=2, seconds=rng.random() * 6 * 86400)
        outreach.pitch(world, story, lead_row, site, channel, send_at)
    return sms_consent


def _scraped(world, category: Category, source: str) -> tuple[dict[str, Any], str]:
    """A scraped profile through business_fields, and the lead's unique slug."""
    rng = world.rng
    city, state, areas, zip3, lat, lon, _ = pick(rng, CITY_CUM, CITIES)
    name = one_of(rng, category.patterns).format(
        surname=one_of(rng, SURNAMES),
        first=one_of(rng, FIRST_NAMES),
        city=city,
        word=one_of(rng, category.words),
        spanish=one_of(rng, SPANISH),
    )
    slug = slug_first_free(slug_base(name, city), world.slugs)
    compact = slug.replace("-", "")
    website, domain = _website(rng, category, slug, compact)
    data = {
        "name": name,
        "phone": world.phone(areas) if rng.random() < P["phone"] else "",
        "website": website,
        "email": _email(rng, domain, compact) if rng.random() < P["email"] else "",
        "address": f"{100 + int(rng.random() * 9800)} {one_of(rng, STREETS)}",
        "city": city,
        "state": state,
        "postal_code": f"{zip3}{1 + int(rng.random() * 99):02d}",
        "latitude": round(lat + rng.uniform(-0.15, 0.15), 6),
        "longitude": round(lon + rng.uniform(-0.15, 0.15), 6),
        "category": category.label,
        "hours": CATEGORY_HOURS[category.label],
        "services": _services(rng, category),
        "gmb_place_id": f"ChIJ{hex_id(rng, 96)}" if source != "manual" else None,
        **_reviews(rng),
    }
    fields = business_fields(data)
    if fields["name_city_key"] == ORPHAN_KEY:  # the orphan site must stay without a lead
        fields = business_fields({**data, "name": f"{name} & Drain"})
        slug = slug_first_free(slug_base(fields["name"], city), world.slugs)
    world.slugs.add(slug)
    return fields, slug


def _website(rng, category: Category, slug: str, compact: str) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.32:
        return f"https://www.{compact}.example/", f"{compact}.example"
    if roll < 0.44:
        return f"https://www.facebook.com/{compact}", ""
    if roll < 0.51:
        return f"https://www.instagram.com/{compact}/", ""
    if roll < 0.58:
        return f"https://www.yelp.com/biz/{slug}", ""
    if roll < 0.63:
        return f"https://{category.booking}/{slug}", ""
    return "", ""


def _email(rng, domain: str, compact: str) -> str:
    if domain:
        return f"{one_of(rng, ('info', 'office', 'contact', 'hello'))}@{domain}"
    return f"{compact}@{one_of(rng, FREEMAIL)}"


def _reviews(rng) -> dict[str, Any]:
    if rng.random() < 0.07:
        rating, reviews = None, 0
    else:
        rating = RATINGS[min(50, max(20, int(rng.gauss(42, 5))))]
        reviews = int(rng.expovariate(1 / 25)) + 1
    photos = int(rng.expovariate(1 / 9))
    recent = None if rng.random() < 0.3 else min(reviews, int(rng.expovariate(1 / 3)))
    return {
        "rating": rating,
        "review_count": reviews,
        "photo_count": photos,
        "recent_review_count": recent,
    }


def _services(rng, category: Category) -> list[str]:
    first, n = int(rng.random() * len(category.services)), len(category.services)
    return [category.services[(first + k) % n] for k in range(3)]


def _business_row(world, story: LeadStory, fields, *, slug, created, source) -> dict[str, Any]:
    """The lead's row: its scraped fields and the statuses its story ends in."""
    status, status_at, furthest = story.contact_statuses()
    website_status, website_at = story.website_status()
    return {
        **fields,
        "slug": slug,
        "source": source,
        "contact_status": status,
        "contact_status_changed_at": status_at,
        "furthest_contact_status": furthest,
        "website_status": website_status,
        "website_status_changed_at": website_at,
        "last_contacted_at": story.last_contacted,
        "email_opt_out_at": story.email_opt_out,
        "sms_opt_out_at": story.sms_opt_out,
        "email_bounced_at": story.bounced,
        "created_at": created,
        "updated_at": world.now,
    }
