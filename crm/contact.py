"""Contact data where it enters: one set of validators for every door a value comes in by
(import, the site builder and orphan linking today; staff edits of a lead and the API's
lead PATCH use the same functions).

- An email is checked with Django's own validator and stored lowercased. A value that
  looks like a spreadsheet formula (`=HYPERLINK(…)`, `+cmd…`, `-1+2`, `@SUM(…)`) is refused
  even when the validator would let it through: it is an injection, not an address.
- A phone is parsed with `phonenumbers` in the lead's country (default US) and must be a
  valid number there; it is kept as written (the display form, trimmed) beside its E.164
  form (`Business.phone_normalized`), which dedupe, suppression and sending use.

`email_clean` / `phone_clean` raise Django's ValidationError, so a form field or a schema
validator can use them as they are; `contact_fields` is the forgiving form an import uses:
an invalid value is dropped and described, the rest of the row goes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from crm.normalize import email_normalized

# What spreadsheet programs evaluate when a cell starts with it (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A North American number written the usual ways (as crm.normalize's fast path).
_NANP_WRITTEN = re.compile(r"\+?[\d\s().-]+")
_NON_DIGITS = re.compile(r"\D")
EMAIL_MAX, PHONE_MAX = 254, 40


def looks_like_formula(value: str) -> bool:
    return value.startswith(FORMULA_START)


def email_clean(raw: object) -> str:
    """The address to store ("" for none). Raises ValidationError when it is not one."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        return ""
    if looks_like_formula(text):
        raise ValidationError(
            "%(value)s looks like a spreadsheet formula, not an email address",
            code="formula",
            params={"value": text[:60]},
        )
    email = email_normalized(text)
    if len(email) > EMAIL_MAX:
        raise ValidationError("the email address is too long", code="too_long")
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            "%(value)s is not a valid email address", code="invalid", params={"value": text[:60]}
        ) from None
    return email


@dataclass(frozen=True)
class Phone:
    display: str  # as written, trimmed ("(512) 555-0100")
    e164: str  # "+15125550100"


NO_PHONE = Phone("", "")


def phone_clean(raw: object, country: str = "US") -> Phone:
    """The number as written and its E.164 form, parsed in the lead's `country` (default
    US). Raises ValidationError when it is not a valid number there."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        return NO_PHONE
    region = (country or "US").strip().upper()[:2] or "US"
    e164 = "" if looks_like_formula(text.lstrip("+")) or "=" in text else _e164(text, region)
    if not e164 or len(text) > PHONE_MAX:
        raise ValidationError(
            "%(value)s is not a valid phone number in %(country)s",
            code="invalid",
            params={"value": text[:40], "country": region},
        )
    return Phone(text, e164)


def _e164(text: str, region: str) -> str:
    if region == "US" and (fast := _nanp_valid_e164(text)) is not None:
        return fast
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _nanp_valid_e164(text: str) -> str | None:
    """A plainly written North American number: its E.164 form when valid, "" when not,
    None to let libphonenumber parse it. Validity in libphonenumber's NANP metadata is a
    matter of the first seven digits (area code, exchange and one more), so it is asked once
    per such prefix: an import normalises 100,000 numbers, mostly from a few exchanges
    (tests/crm/test_contact_data.py checks this against the library)."""
    if not _NANP_WRITTEN.fullmatch(text):
        return None
    digits = _NON_DIGITS.sub("", text)
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    elif len(digits) != 10 or text.startswith("+"):
        return None
    return f"+1{digits}" if _nanp_prefix_valid(digits[:7]) else ""


@lru_cache(maxsize=65536)
def _nanp_prefix_valid(prefix: str) -> bool:
    number = phonenumbers.PhoneNumber(country_code=1, national_number=int(prefix + "000"))
    return phonenumbers.is_valid_number(number)


def contact_fields(*, email: object, phone: object, country: str) -> tuple[dict, list[str]]:
    """{email, phone, phone_normalized} with every invalid value dropped, and one line per
    dropped value saying what and why (the import report shows them)."""
    fields = {"email": "", "phone": "", "phone_normalized": ""}
    dropped: list[str] = []
    try:
        fields["email"] = email_clean(email)
    except ValidationError as exc:
        dropped.append(f"email dropped: {_message(exc)}")
    try:
        number = phone_clean(phone, country)
        fields["phone"], fields["phone_normalized"] = number.display, number.e164
    except ValidationError as exc:
        dropped.append(f"phone dropped: {_message(exc)}")
    return fields, dropped


def email_valid(value: str) -> bool:
    try:
        return bool(email_clean(value))
    except ValidationError:
        return False


def _message(exc: ValidationError) -> str:
    return "; ".join(exc.messages)
