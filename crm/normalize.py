"""Normalisation of scraped contact data, shared by dedupe, suppression and search."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import urlsplit

import phonenumbers

# A North American number written the usual ways: an optional leading "+", then digits
# with spaces, dots, dashes and parentheses between them.
_NANP_WRITTEN = re.compile(r"\+?[\d\s().-]+")
_NON_DIGITS = re.compile(r"\D")


def is_digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts '²' and other digits int() refuses."""
    return text.isascii() and text.isdigit()


def _nanp_e164(raw: str) -> str | None:
    """The E.164 form of a plainly written US number (10 digits, or 11 starting with the
    country code 1; area codes start 2–9), or None to let libphonenumber decide: the same
    answer it gives for these (tests/crm/test_normalize.py), at a tenth of the cost, which
    matters when an import normalises 100,000 numbers."""
    if not _NANP_WRITTEN.fullmatch(raw):
        return None
    digits = _NON_DIGITS.sub("", raw)
    if len(digits) == 10 and not raw.startswith("+") and digits[0] >= "2":
        return "+1" + digits
    if len(digits) == 11 and digits[0] == "1" and digits[1] >= "2":
        return "+" + digits
    return None


def phone_e164(raw: str, country: str = "US") -> str:
    """'(512) 555-0100' → '+15125550100'; '' when it is not a plausible number."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    if (country or "US").upper() == "US" and (fast := _nanp_e164(raw)):
        return fast
    try:
        number = phonenumbers.parse(raw, (country or "US").upper())
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_normalized(raw: str) -> str:
    return (raw or "").strip().lower()


def email_domain(raw: str) -> str:
    email = email_normalized(raw)
    return email.rpartition("@")[2] if "@" in email else ""


@lru_cache(maxsize=1024)  # scoring and dedupe ask again for the same row's website
def website_url(raw: str) -> str:
    """Add a scheme to bare hosts ('joes.com' → 'https://joes.com'); '' for junk."""
    raw = (raw or "").strip()
    if not raw or " " in raw:
        return ""
    if not re.match(r"^[a-z][a-z0-9+.-]*://", raw, re.I):
        raw = "https://" + raw
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or "." not in (parts.hostname or ""):
        return ""
    return raw


def website_host(raw: str) -> str:
    """The host of a website without 'www.' ('https://www.Joes.com/x' → 'joes.com')."""
    url = website_url(raw)
    if not url:
        return ""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def fold(text: str) -> str:
    """Lowercase, accents removed, punctuation collapsed: for name comparisons."""
    text = text or ""
    if not text.isascii():  # accents off; plain ASCII has none to take off
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.lower()
    text = text.replace("&", " and ")
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def name_city_key(name: str, city: str) -> str:
    name_key, city_key = fold(name), fold(city)
    return f"{name_key}|{city_key}" if name_key else ""
