"""CSV export: streamed, filtered, with engagement dates, formula injection neutralised."""

import csv
import io

import pytest

from crm.csv_export import csv_cell
from crm.lifecycle import business_record_contact
from crm.services import business_create


def read_csv(response) -> list[dict]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1 555", "'+1 555"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Joe's Plumbing", "Joe's Plumbing"),
        (None, ""),
        (42, 42),
        (-3, -3),
    ],
)
def test_csv_cell_neutralises_formulas(value, expected):
    assert csv_cell(value) == expected


@pytest.mark.django_db
def test_export_streams_the_filtered_leads_with_statuses(staff_client):
    a = business_create(
        data={"name": "=cmd|' /C calc'!A0", "city": "Austin", "email": "a@a.example"}, source="t"
    )
    business_create(data={"name": "Dallas Co", "city": "Dallas"}, source="t")
    business_record_contact(business=a, channel="email", source="test")
    response = staff_client.get("/admin/crm/leads/export.csv?city=Austin")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert len(rows) == 1
    row = rows[0]
    assert row["name"] == "'=cmd|' /C calc'!A0"
    assert row["contact_status"] == "emailed"
    assert row["last_contacted_at"]
    assert {"first_opened_at", "first_clicked_at", "last_replied_at"} <= set(row)


@pytest.mark.django_db
def test_export_of_selected_ids(staff_client):
    a = business_create(data={"name": "A", "city": "Austin"}, source="t")
    business_create(data={"name": "B", "city": "Austin"}, source="t")
    rows = read_csv(staff_client.get(f"/admin/crm/leads/export.csv?ids={a.pk}"))
    assert [r["id"] for r in rows] == [str(a.pk)]


@pytest.mark.django_db
def test_export_engagement_dates_come_from_messages(staff_client, business):
    from django.utils import timezone

    from campaigns.models import Message

    opened = timezone.now().replace(microsecond=0)
    Message.objects.create(
        business=business, channel="email", to_address=business.email, opened_at=opened
    )
    rows = read_csv(staff_client.get("/admin/crm/leads/export.csv"))
    assert rows[0]["first_opened_at"].startswith(opened.isoformat()[:19])


@pytest.mark.django_db
def test_export_with_an_invalid_filter_is_a_clear_400(staff_client):
    response = staff_client.get("/admin/crm/leads/export.csv?min_score=high")
    assert response.status_code == 400
    assert b"Invalid filter" in response.content


@pytest.mark.django_db
def test_the_lead_tables_export_button_posts_with_the_csrf_token(staff_user):
    from django.test import Client

    business_create(data={"name": "Austin Co", "city": "Austin"}, source="t")
    business_create(data={"name": "Dallas Co", "city": "Dallas"}, source="t")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    page = client.get("/admin/crm/leads/?city=Austin").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    form = {"city": "Austin", "all": "1", "export": "1"}
    assert client.post("/admin/crm/leads/export.csv", form).status_code == 403
    response = client.post("/admin/crm/leads/export.csv", {**form, "csrfmiddlewaretoken": token})
    assert [r["name"] for r in read_csv(response)] == ["Austin Co"]
