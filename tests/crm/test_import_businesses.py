"""import_businesses: formats, detection, dedupe, raw records, bad input, dry run."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from crm.importers import detect_format, read_text
from crm.models import Business, ContactStatus, ImportBatch, ImportRecord, LeadEvent
from crm.services import business_create

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "imports"
pytestmark = pytest.mark.django_db


def run(name, *args):
    out = StringIO()
    call_command("import_businesses", str(FIXTURES / name), *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "name,fmt",
    [
        ("outscraper.csv", "outscraper-csv"),
        ("outscraper.json", "outscraper-json"),
        ("apify.json", "apify-json"),
        ("google_places.json", "google-places-json"),
        ("plain.csv", "csv"),
    ],
)
def test_format_is_detected_from_the_content(name, fmt):
    assert detect_format(read_text(FIXTURES / name)) == fmt


def test_outscraper_csv_maps_every_field_and_keeps_formulas_as_text():
    out = run("outscraper.csv")
    assert "created 3" in out
    joe = Business.objects.get(gmb_place_id="ChIJ_joes_001")
    assert (joe.name, joe.city, joe.state, joe.postal_code) == (
        "Joe's Plumbing",
        "Austin",
        "Texas",
        "78701",
    )
    assert joe.phone_normalized == "+15125550101"
    assert joe.email == "joe@joesplumbing.com"
    assert str(joe.rating) == "4.8" and joe.review_count == 120 and joe.photo_count == 25
    assert joe.hours == {"Monday": "8AM-5PM"}
    assert joe.website_kind == "own" and joe.website_domain == "joesplumbing.com"
    assert Business.objects.get(gmb_place_id="ChIJ_sum_003").name == "=SUM(A1:A2) Cafe"
    sparks = Business.objects.get(gmb_place_id="ChIJ_bright_002")
    assert sparks.website_kind == "social" and sparks.website_domain == ""


def test_outscraper_json_apify_and_google_places_are_imported():
    run("outscraper.json")
    run("apify.json")
    run("google_places.json")
    assert Business.objects.get(gmb_place_id="ChIJ_dogs_202").website_kind == "social"
    sol = Business.objects.get(gmb_place_id="ChIJ_elsol_301")
    assert (sol.name, sol.category, sol.review_count, sol.latitude) == (
        "Taqueria El Sol",
        "Mexican restaurant",
        340,
        29.76,
    )
    assert sol.website_kind == "directory"
    auto = Business.objects.get(gmb_place_id="ChIJ_gp_401")
    assert (auto.name, auto.city, auto.state, auto.category) == (
        "Phoenix Auto Repair",
        "Phoenix",
        "AZ",
        "car_repair",
    )
    assert auto.website_kind == "directory"  # a Google Business Profile link is not own
    assert Business.objects.get(gmb_place_id="ChIJ_gp_402").website_kind == "own"


def test_plain_csv_with_our_field_names():
    run("plain.csv", "--source", "manual-list")
    lawn = Business.objects.get(name="Miami Lawn Care")
    assert lawn.email == "hello@miamilawn.com" and lawn.source == "manual-list"
    assert lawn.contact_status == ContactStatus.PENDING
    assert LeadEvent.objects.filter(business=lawn, kind="created").count() == 1


def test_latin1_and_bom_files_decode():
    run("latin1.csv")
    run("utf8_bom.csv")
    assert Business.objects.get(city="San José").name == "Café Latino"
    assert Business.objects.filter(name="Café BOM", city="Portland").exists()


def test_raw_records_are_kept_and_second_run_creates_nothing():
    run("outscraper.csv")
    out = run("outscraper.csv")
    assert "created 0" in out and "updated 0" in out and "unchanged 3" in out
    assert Business.objects.count() == 3
    assert ImportBatch.objects.count() == 2
    record = ImportRecord.objects.filter(outcome="created").get(row_number=2)
    assert record.raw["name"] == "Joe's Plumbing" and record.business.name == "Joe's Plumbing"


def test_dedupe_matches_existing_leads_by_each_key_in_order(tmp_path):
    by_place = business_create(data={"name": "Old Name", "gmb_place_id": "P1"}, source="t")
    by_phone = business_create(data={"name": "Phone Co", "phone": "512-555-0900"}, source="t")
    by_site = business_create(data={"name": "Site Co", "website": "https://siteco.com"}, source="t")
    by_name = business_create(data={"name": "Name Co", "city": "Austin"}, source="t")
    path = tmp_path / "dedupe.csv"
    path.write_text(
        "name,city,phone,website,gmb_place_id,email\n"
        "New Name,Austin,,,P1,\n"
        "Phone Co Renamed,Dallas,(512) 555-0900,,,\n"
        "Site Co,Houston,,http://www.siteco.com/contact,,a@siteco.com\n"
        "NAME CO.,austin,,,,name@co.com\n"
        "Fresh Lead,Austin,512-555-0999,,,\n"
        "Fresh Lead,Austin,,,,fresh@lead.com\n"
    )
    out = StringIO()
    call_command("import_businesses", str(path), stdout=out)
    assert "created 1, updated 4, unchanged 1" in out.getvalue()
    assert Business.objects.count() == 5
    by_place.refresh_from_db()
    assert by_place.name == "New Name"
    by_phone.refresh_from_db()
    assert (by_phone.name, by_phone.city) == ("Phone Co Renamed", "Dallas")
    by_site.refresh_from_db()
    assert by_site.email == "a@siteco.com"
    by_name.refresh_from_db()
    assert by_name.email == "name@co.com"
    fresh = Business.objects.get(name="Fresh Lead")
    assert fresh.phone_normalized == "+15125550999" and fresh.email == "fresh@lead.com"
    assert LeadEvent.objects.filter(kind="imported").count() == 4


def test_update_never_touches_statuses_nor_blanks_known_values(tmp_path):
    lead = business_create(
        data={"name": "Kept", "city": "Austin", "email": "keep@me.com", "gmb_place_id": "K1"},
        source="t",
    )
    Business.objects.filter(pk=lead.pk).update(contact_status=ContactStatus.OPENED)
    path = tmp_path / "u.csv"
    path.write_text("name,city,email,phone,gmb_place_id\nKept,Austin,,512-555-0444,K1\n")
    call_command("import_businesses", str(path), stdout=StringIO())
    lead.refresh_from_db()
    assert lead.email == "keep@me.com" and lead.phone == "512-555-0444"
    assert lead.contact_status == ContactStatus.OPENED


def test_broken_row_aborts_with_nothing_written():
    with pytest.raises(CommandError) as exc:
        run("broken.csv")
    assert "row 3: name is required" in str(exc.value)
    assert "row 4: rating 'abc' is not a number" in str(exc.value)
    assert Business.objects.count() == 0 and ImportBatch.objects.count() == 0


def test_bad_json_missing_file_and_unknown_format_are_command_errors(tmp_path):
    with pytest.raises(CommandError, match="bad JSON"):
        run("broken.json")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_businesses", str(tmp_path / "nope.csv"))
    with pytest.raises(CommandError):
        call_command("import_businesses", str(FIXTURES / "plain.csv"), "--format", "xls")
    assert Business.objects.count() == 0


def test_skip_bad_rows_imports_the_rest_and_records_reasons():
    out = run("broken.csv", "--skip-bad-rows")
    assert "created 2" in out and "skipped 2" in out
    assert "skipped row 3: name is required" in out
    skipped = ImportRecord.objects.filter(outcome="skipped").order_by("row_number")
    assert [(r.row_number, r.reason) for r in skipped] == [
        (3, "name is required"),
        (4, "rating 'abc' is not a number"),
    ]
    assert skipped[1].raw["name"] == "Bad Rating Pizza"


def test_dry_run_reports_but_writes_nothing():
    out = run("outscraper.csv", "--dry-run")
    assert "DRY RUN" in out and "created 3" in out
    assert Business.objects.count() == 0 and ImportRecord.objects.count() == 0
    assert LeadEvent.objects.count() == 0


def test_slugs_are_unique_in_bulk(tmp_path):
    business_create(data={"name": "Same Co", "city": "Austin"}, source="t")
    path = tmp_path / "s.csv"
    # "Same & Co" and "Sa'me Co" are other leads (name keys differ) with the same slug base.
    path.write_text("name,city\nSame & Co,Austin\nSa'me Co,Austin\n")
    run_out = StringIO()
    call_command("import_businesses", str(path), "--format", "csv", stdout=run_out)
    slugs = sorted(Business.objects.values_list("slug", flat=True))
    assert slugs == ["same-co-austin", "same-co-austin-2", "same-co-austin-3"]
