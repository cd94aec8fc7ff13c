"""The NANP fast path of phone_e164 gives libphonenumber's answer for every number it takes,
and leaves everything else to libphonenumber."""

import random

import phonenumbers
import pytest

from crm.normalize import _nanp_e164, fold, phone_e164


def _library(raw: str) -> str:
    try:
        number = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _written(rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789") for _ in range(rng.choice([9, 10, 10, 11, 11, 12])))
    if rng.random() < 0.5 and len(digits) == 11:
        digits = "1" + digits[1:]
    seps = [" ", "-", ".", "", "(", ")", "  "]
    out = "".join(d + (rng.choice(seps) if rng.random() < 0.3 else "") for d in digits)
    return ("+" if rng.random() < 0.3 else "") + out


def test_the_fast_path_agrees_with_libphonenumber():
    rng = random.Random(1)
    taken = 0
    for _ in range(5000):
        raw = _written(rng).strip()
        fast = _nanp_e164(raw)
        if fast is not None:
            taken += 1
            assert fast == _library(raw), raw
        assert phone_e164(raw) == _library(raw), raw
    assert taken > 1000  # the fast path is really exercised


@pytest.mark.parametrize(
    "raw",
    [
        "(512) 555-0100",
        "+1 512 555 0100",
        "1-512-555-0100",
        "512.555.0100",
        "+44 20 7946 0958",  # not North American: libphonenumber decides
        "+5125550100",  # a "+" without the country code 1 is another country
        "0125550100",  # area codes never start with 0 or 1
        "512-555-0100 ext. 12",
        "call us",
    ],
)
def test_examples_match_libphonenumber(raw):
    assert phone_e164(raw) == _library(raw)


def test_fold_takes_accents_off_and_keeps_ascii_as_is():
    assert fold("Café  Olé & Co.") == "cafe ole and co"
    assert fold("Joe's Plumbing") == "joe s plumbing"
