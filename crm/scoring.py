"""Lead qualification: one formula, its weights, and the website classification.

Everything a score depends on lives here and is documented in the README ("Scoring"):

    score = sum of the factor points below, clamped to 0–100

A business without a website of its own is the best prospect, so "no own website" carries
the largest weight. A scraped `website` that points at a directory, social or booking page
is classified as such and counts as no website.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crm.contact import email_valid
from crm.formatting import plural
from crm.normalize import website_host

# Hosts (and their subdomains) that are not a website of the business's own.
SOCIAL_HOSTS = {
    "facebook.com",
    "fb.com",
    "fb.me",
    "instagram.com",
    "twitter.com",
    "x.com",
    "tiktok.com",
    "linkedin.com",
    "youtube.com",
    "pinterest.com",
    "linktr.ee",
    "linktree.com",
    "nextdoor.com",
    "wa.me",
    "whatsapp.com",
    "threads.net",
}
DIRECTORY_HOSTS = {
    "yelp.com",
    "yellowpages.com",
    "angi.com",
    "angieslist.com",
    "homeadvisor.com",
    "thumbtack.com",
    "houzz.com",
    "bbb.org",
    "manta.com",
    "mapquest.com",
    "foursquare.com",
    "tripadvisor.com",
    "nextdoor.com",
    "porch.com",
    "bark.com",
    "superpages.com",
    "business.site",
    "g.page",
    "goo.gl",
    "maps.google.com",
    "google.com",
    "maps.app.goo.gl",
    "sites.google.com",
    "business.google.com",
}
BOOKING_HOSTS = {
    "booksy.com",
    "vagaro.com",
    "styleseat.com",
    "square.site",
    "squareup.com",
    "opentable.com",
    "resy.com",
    "calendly.com",
    "setmore.com",
    "schedulicity.com",
    "mindbodyonline.com",
    "fresha.com",
    "genbook.com",
    "acuityscheduling.com",
    "toasttab.com",
    "grubhub.com",
    "doordash.com",
    "ubereats.com",
    "housecallpro.com",
    "getjobber.com",
}

# Points per factor. They add up to 100 for a perfect prospect.
WEIGHTS: dict[str, int] = {
    "no_own_website": 30,
    "has_phone": 15,
    "has_email": 15,
    "rating": 15,  # full points at 4.5★ and above, scaled linearly from 3.0★
    "reviews": 10,  # full points at 50 reviews and above
    "recent_reviews": 5,  # full points at 5 reviews in the last 90 days
    "photos": 10,  # full points at 20 photos and above
}
RATING_FLOOR, RATING_FULL = Decimal("3.0"), Decimal("4.5")
REVIEWS_FULL, RECENT_REVIEWS_FULL, PHOTOS_FULL = 50, 5, 20


def _host_in(host: str, hosts: set[str]) -> bool:
    """`host` is one of `hosts` or a subdomain of one (looked up parent by parent)."""
    while host:
        if host in hosts:
            return True
        host = host.partition(".")[2]
    return False


def classify_website(url: str) -> str:
    """'own', 'social', 'directory', 'booking' or 'none' (a WebsiteKind value)."""
    host = website_host(url)
    if not host:
        return "none"
    if _host_in(host, SOCIAL_HOSTS):
        return "social"
    if _host_in(host, BOOKING_HOSTS):
        return "booking"
    if _host_in(host, DIRECTORY_HOSTS) or host.startswith("google."):
        return "directory"
    return "own"


def _fraction(value: float, full: float) -> float:
    return max(0.0, min(1.0, value / full)) if full else 0.0


def score(
    *,
    website_kind: str,
    phone: str,
    email: str,
    rating: Decimal | float | None,
    review_count: int,
    recent_review_count: int | None,
    photo_count: int,
) -> tuple[int, dict[str, Any]]:
    """(score 0–100, breakdown). The breakdown lists each factor's points and why."""
    rating_dec = Decimal(str(rating)) if rating is not None else None
    factors: dict[str, tuple[float, str]] = {
        "no_own_website": (
            1.0 if website_kind != "own" else 0.0,
            "no website of its own" if website_kind != "own" else "has its own website",
        ),
        "has_phone": (1.0 if phone else 0.0, "phone known" if phone else "no phone"),
        "has_email": (1.0 if email else 0.0, "email known" if email else "no email"),
        "rating": (
            _fraction(float(rating_dec - RATING_FLOOR), float(RATING_FULL - RATING_FLOOR))
            if rating_dec is not None
            else 0.0,
            f"{rating_dec}★" if rating_dec is not None else "no rating",
        ),
        "reviews": (_fraction(review_count, REVIEWS_FULL), plural(review_count, "review")),
        "recent_reviews": (
            _fraction(recent_review_count or 0, RECENT_REVIEWS_FULL),
            plural(recent_review_count, "recent review")
            if recent_review_count is not None
            else "recent reviews unknown",
        ),
        "photos": (_fraction(photo_count, PHOTOS_FULL), plural(photo_count, "photo")),
    }
    breakdown = {
        name: {"points": round(WEIGHTS[name] * share), "max": WEIGHTS[name], "why": why}
        for name, (share, why) in factors.items()
    }
    total = max(0, min(100, sum(item["points"] for item in breakdown.values())))
    return total, breakdown


def score_business(business) -> tuple[int, dict[str, Any]]:
    """The lead's score as stored: a phone counts when it has its E.164 form, an email when
    it is valid (crm.contact), so a value stored before validation never scores as known."""
    return score(
        website_kind=business.website_kind,
        phone=business.phone_normalized,
        email=business.email if email_valid(business.email) else "",
        rating=business.rating,
        review_count=business.review_count,
        recent_review_count=business.recent_review_count,
        photo_count=business.photo_count,
    )
