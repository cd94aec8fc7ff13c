"""Contact data is validated where it enters: emails with Django's validator (formula-looking
values refused), phones with phonenumbers in the lead's country, kept as E.164 beside the
display form. An invalid value is dropped with a line in the import report, never scores as
known and is never sent to; `clean_contact_data` repairs what was stored before."""

from __future__ import annotations

import random
from io import StringIO

import phonenumbers
import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command

from campaigns import services
from campaigns.audience import audience_preview
from campaigns.models import Message
from crm.contact import Phone, email_clean, phone_clean
from crm.importers import import_file
from crm.models import Business, ImportRecord, LeadEvent
from crm.services import business_create

FORMULA_EMAIL = '=hyperlink("http://x","y")'


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Joe@JoesPlumbing.com ", "joe@joesplumbing.com"),
        ("", ""),
        ("owner+leads@example.co.uk", "owner+leads@example.co.uk"),
    ],
)
def test_valid_emails_are_normalised(raw, clean):
    assert email_clean(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        FORMULA_EMAIL,
        "=cmd|'/c calc'!A0@x.com",
        "+SUM(A1)@x.com",
        "-1+2@x.com",
        "joe at x.com",
        "a@b",
    ],
)
def test_invalid_or_formula_looking_emails_are_refused(raw):
    with pytest.raises(ValidationError):
        email_clean(raw)


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("(512) 555-0100", "US", "+15125550100"),
        ("+1 512 555 0100", "US", "+15125550100"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("2234 5678", "GT", "+50222345678"),
        ("+44 20 7946 0958", "US", "+442079460958"),
    ],
)
def test_phones_are_parsed_in_the_leads_country_and_kept_beside_their_display(raw, country, e164):
    assert phone_clean(raw, country) == Phone(raw.strip(), e164)


@pytest.mark.parametrize("raw", ["(555) 123-4567", "123", "=1+1", "call us", "+1 200 555 0100"])
def test_impossible_or_formula_phones_are_refused(raw):
    with pytest.raises(ValidationError):
        phone_clean(raw, "US")


def test_the_nanp_validity_shortcut_agrees_with_libphonenumber():
    rng = random.Random(5)
    for _ in range(3000):
        digits = f"{rng.randint(2, 9)}{rng.randint(0, 999_999_999):09d}"
        written = rng.choice([f"({digits[:3]}) {digits[3:6]}-{digits[6:]}", f"1{digits}", digits])
        number = phonenumbers.parse(written, "US")
        expected = (
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if phonenumbers.is_valid_number(number)
            else ""
        )
        try:
            got = phone_clean(written, "US").e164
        except ValidationError:
            got = ""
        assert got == expected, written


@pytest.mark.django_db
def test_an_import_drops_invalid_contact_values_with_a_line_in_the_report(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(
        "name,city,email,phone\n"
        f'Formula Plumbing,Austin,"{FORMULA_EMAIL.replace(chr(34), chr(34) * 2)}",(555) 123-4567\n'
        "Good Plumbing,Austin,hello@goodplumbing.com,512-555-0100\n"
    )
    out = StringIO()
    call_command("import_businesses", str(path), stdout=out)
    text = out.getvalue()
    assert "created 2" in text
    assert "row 2: email dropped:" in text and "looks like a spreadsheet formula" in text
    assert "row 2: phone dropped: (555) 123-4567 is not a valid phone number in US" in text
    bad = Business.objects.get(name="Formula Plumbing")
    assert (bad.email, bad.phone, bad.phone_normalized) == ("", "", "")
    assert bad.score_breakdown["has_email"] == {"points": 0, "max": 15, "why": "no email"}
    assert bad.score_breakdown["has_phone"]["why"] == "no phone"
    good = Business.objects.get(name="Good Plumbing")
    assert (good.email, good.phone_normalized) == ("hello@goodplumbing.com", "+15125550100")
    assert "email dropped" in ImportRecord.objects.get(business=bad).reason
    report = import_file(path, dry_run=True)
    assert [n for n, _ in report.dropped] == [2, 2]


def _legacy_lead(**stored) -> Business:
    """A lead stored before contact data was validated (as the database may still hold)."""
    lead = business_create(
        data={"name": "Legacy Lead", "city": "Austin", "email": "ok@legacy.com"}, source="test"
    )
    Business.objects.filter(pk=lead.pk).update(**stored)
    return Business.objects.get(pk=lead.pk)


@pytest.mark.django_db
def test_a_stored_formula_email_is_never_sent_to():
    lead = _legacy_lead(email=FORMULA_EMAIL)
    business_create(
        data={"name": "Fine Lead", "city": "Austin", "email": "fine@lead.com"}, source="test"
    )
    preview = audience_preview(channel="email", audience_query="city=Austin")
    assert preview.eligible == 1 and preview.excluded == {"invalid_email": 1}
    campaign = services.campaign_create(
        name="c", audience_ids=[lead.pk], subject_template="s", body_template="b"
    )
    services.campaign_start(campaign=campaign)
    assert not Message.objects.filter(business=lead).exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_queued_message_whose_email_turned_invalid_is_cancelled_at_send_time():
    from campaigns import tasks

    lead = business_create(
        data={"name": "Soon Bad", "city": "Austin", "email": "soon@bad.com"}, source="test"
    )
    campaign = services.campaign_create(
        name="c", audience_ids=[lead.pk], subject_template="s", body_template="b"
    )
    services.campaign_start(campaign=campaign)  # queued; its chunk runs after commit
    Business.objects.filter(pk=lead.pk).update(email=FORMULA_EMAIL)  # a raw edit, unvalidated
    message = Message.objects.get(campaign=campaign)
    assert tasks.campaign_send_chunk(campaign.pk, [message.pk]) == {"cancelled": 1}
    message.refresh_from_db()
    assert (message.status, message.error) == ("cancelled", "Email address not valid")
    assert mail.outbox == []


@pytest.mark.django_db
def test_clean_contact_data_repairs_stored_values_and_reports_what_it_changed():
    formula = _legacy_lead(email=FORMULA_EMAIL, qualification_score=99)
    raw_phone = _legacy_lead(phone="(512) 555-0142", phone_normalized="")
    junk_phone = _legacy_lead(phone="(555) 123-4567", phone_normalized="+15551234567")
    fine = business_create(
        data={"name": "Fine", "city": "Austin", "email": "fine@x.com", "phone": "512-555-0100"},
        source="test",
    )
    events_before = LeadEvent.objects.filter(business=fine).count()

    dry = StringIO()
    call_command("clean_contact_data", "--dry-run", stdout=dry)
    assert "DRY RUN" in dry.getvalue() and "3 leads changed" in dry.getvalue()
    assert Business.objects.get(pk=formula.pk).email == FORMULA_EMAIL

    out = StringIO()
    call_command("clean_contact_data", stdout=out)
    text = out.getvalue()
    assert "4 leads checked, 3 leads changed" in text
    assert "emails dropped: 1, phones dropped: 1, phones normalised: 1" in text
    assert f"lead #{formula.pk}: email dropped" in text
    formula.refresh_from_db()
    assert formula.email == "" and formula.score_breakdown["has_email"]["why"] == "no email"
    assert formula.qualification_score < 99
    raw_phone.refresh_from_db()
    assert raw_phone.phone_normalized == "+15125550142"
    junk_phone.refresh_from_db()
    assert (junk_phone.phone, junk_phone.phone_normalized) == ("", "")
    assert LeadEvent.objects.filter(business=formula, kind="updated").exists()
    assert LeadEvent.objects.filter(business=fine).count() == events_before

    again = StringIO()
    call_command("clean_contact_data", stdout=again)
    assert "0 leads changed" in again.getvalue()
