"""Imports read text honestly: a UTF-8 file with a few undecodable rows keeps its good rows as
UTF-8 (never re-read as Latin-1) and reports the bad ones; a Windows-1252 export is decoded
with the detected encoding, named in the report; empty rows are skipped; a huge cell in an
unused column is ignored; wrong JSON types are per-row errors."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from crm.importers import ImportFailed, import_file
from crm.models import Business, ImportRecord
from crm.services import business_create

pytestmark = pytest.mark.django_db


def run(path, *args) -> str:
    out = StringIO()
    call_command("import_businesses", str(path), *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def ten_cafes():
    return [
        business_create(
            data={"name": f"Café Número {i}", "city": "San José", "gmb_place_id": f"cafe-{i}"},
            source="test",
        )
        for i in range(10)
    ]


def _utf8_file_with_one_bad_row(tmp_path):
    lines = [b"name,city,place_id"]
    lines += [f"Café Número {i},San José,cafe-{i}".encode() for i in range(10)]
    lines.insert(6, b"Caf\xe9 Roto,Austin,broken-1")  # one Latin-1 byte in a UTF-8 file
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_one_undecodable_row_never_renames_the_good_utf8_rows(tmp_path, ten_cafes):
    path = _utf8_file_with_one_bad_row(tmp_path)
    with pytest.raises(CommandError) as refused:
        run(path)
    assert "row 7: not valid UTF-8" in str(refused.value)

    out = run(path, "--skip-bad-rows")
    assert "skipped row 7: not valid UTF-8" in out
    assert "not UTF-8: read as" not in out
    names = sorted(Business.objects.values_list("name", flat=True))
    assert names == sorted(f"Café Número {i}" for i in range(10))
    assert not Business.objects.filter(name__contains="Ã").exists()
    assert set(Business.objects.values_list("city", flat=True)) == {"San José"}
    skipped = ImportRecord.objects.get(outcome="skipped")
    assert skipped.raw["name"] == "Caf\ufffd Roto"  # stored, the bad byte marked


def test_a_windows_1252_export_is_decoded_as_detected_and_named(tmp_path):
    text = "name,city,phone\nCafé Olé,Austin,512-555-0100\nNiño’s Tacos,Austin,512-555-0101\n"
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode("cp1252"))
    out = run(path)
    assert "The file is not UTF-8: read as cp1252 (detected)." in out
    assert sorted(Business.objects.values_list("name", flat=True)) == [
        "Café Olé",
        "Niño’s Tacos",
    ]


def test_the_report_names_the_encoding(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes("name,city\nJosé Pérez Plumbing,Austin\n".encode("cp1252"))
    report = import_file(path)
    assert (report.encoding, report.encoding_detected, report.created) == ("cp1252", True, 1)


def test_empty_rows_are_skipped_not_errors(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("name,city,phone\n,,\nJoe's Plumbing,Austin,\n ,  ,\n\nAnn's Bakery,Austin,\n")
    out = run(path)
    assert "created 2" in out and "skipped 0" in out
    assert "2 empty row(s) ignored" in out
    assert Business.objects.count() == 2


def test_a_huge_cell_in_an_unused_column_is_ignored(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("name,city,notes\nJoe's Plumbing,Austin," + "x" * 300_000 + "\n")
    out = run(path)
    assert "created 1" in out
    record = ImportRecord.objects.get()
    assert record.raw["notes"] == "[300,000 characters not kept]"
    assert Business.objects.get().name == "Joe's Plumbing"


def test_a_huge_cell_in_a_used_column_is_a_bad_row(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("name,city\n" + "A" * 300_000 + ",Austin\nAnn's Bakery,Austin\n")
    with pytest.raises(ImportFailed, match="name is 300,000 characters long"):
        import_file(path)
    assert not Business.objects.exists()
    report = import_file(path, skip_bad_rows=True)
    assert report.created == 1 and report.skipped == [(2, "name is 300,000 characters long")]


def test_wrong_json_types_are_per_row_errors(tmp_path):
    records = [
        {"title": "Object Place Id", "city": "Austin", "placeId": {"id": "x"}},
        {"title": "List Phone", "city": "Austin", "phone": ["512-555-0100"]},
        {"title": "Good Apify Row", "city": "Austin", "placeId": "ChIJ_good", "phone": 5125550102},
    ]
    path = tmp_path / "apify.json"
    path.write_text(json.dumps(records))
    with pytest.raises(ImportFailed) as refused:
        import_file(path)
    assert "row 1: gmb_place_id must be text, not an object" in str(refused.value)
    assert "row 2: phone must be text, not a list" in str(refused.value)
    assert not Business.objects.exists()
    report = import_file(path, skip_bad_rows=True)
    assert report.created == 1 and [n for n, _ in report.skipped] == [1, 2]
    good = Business.objects.get()
    assert (good.gmb_place_id, good.phone_normalized) == ("ChIJ_good", "+15125550102")
