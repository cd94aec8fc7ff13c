"""The analytics page, its CSV exports, the analytics API endpoints and the API-token page."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.models import ApiToken
from crm.services import business_create
from crm.tokens import token_create, token_user
from tests.analytics_world import USD_SALE, build_world

pytestmark = pytest.mark.django_db

URL = "/admin/crm/analytics/"


@pytest.fixture
def world(settings):
    return build_world(settings)


def _csv(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_page_needs_staff(client, django_user_model):
    assert client.get(URL)["Location"].startswith("/accounts/login/")
    client.force_login(django_user_model.objects.create_user("x", password="x"))
    assert client.get(URL).status_code == 302


@pytest.mark.parametrize(
    "section", ["funnel", "cohorts", "revenue", "campaigns", "convert", "stages"]
)
def test_each_tab_draws_its_chart_with_its_numbers(client, viewer_user, world, section):
    client.force_login(viewer_user)
    response = client.get(URL, {"period": "90d", "section": section})
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="{section}"' in html and f"chart={section}" in html
    assert "<svg" in html and "<table" in html
    others = {"funnel", "cohorts", "revenue", "campaigns", "convert", "stages"} - {section}
    assert not any(f'id="{other}"' in html for other in others)


def test_default_tab_is_the_funnel(client, viewer_user, world):
    client.force_login(viewer_user)
    html = client.get(URL).content.decode()
    assert 'id="funnel"' in html and "Active subscription" in html
    html = client.get(URL, {"section": "revenue"}).content.decode()
    assert "$497.00" in html
    html = client.get(URL, {"section": "campaigns"}).content.decode()
    assert "Spring plumbers" in html


def test_empty_database_renders(client, staff_user):
    client.force_login(staff_user)
    for period in ("30d", "all"):
        for section in ("funnel", "cohorts", "revenue", "campaigns", "convert", "stages"):
            params = {"period": period, "group": "month", "by": "city", "section": section}
            assert client.get(URL, params).status_code == 200
        response = client.get(URL, {"period": period, "section": "cohorts"})
        assert b"No lead was first contacted" in response.content


def test_selectors_switch_grouping_and_dimension(client, staff_user, world):
    client.force_login(staff_user)
    html = client.get(URL, {"by": "city", "section": "revenue"}).content.decode()
    assert "Revenue by city" in html and "Springfield, IL" in html
    html = client.get(URL, {"group": "month", "section": "cohorts"}).content.decode()
    assert "Conversion rates by month" in html
    html = client.get(URL, {"by": "campaign", "section": "revenue"}).content.decode()
    assert "(no campaign)" in html


@pytest.mark.parametrize(
    "params",
    [
        {"period": "7y"},
        {"group": "day"},
        {"by": "owner"},
        {"sort": "price"},
        {"format": "csv"},
        {"section": "secrets"},
    ],
)
def test_bad_selector_is_400(client, staff_user, params):
    client.force_login(staff_user)
    assert client.get(URL, params).status_code == 400


def test_csv_has_the_raw_numbers(client, staff_user, world):
    client.force_login(staff_user)
    rows = _csv(client.get(URL, {"format": "csv", "chart": "funnel", "period": "all"}))
    assert [(r["stage"], r["count"]) for r in rows][-2:] == [
        ("purchased", "3"),
        ("subscribed", "3"),
    ]
    rows = _csv(client.get(URL, {"format": "csv", "chart": "revenue", "by": "campaign"}))
    by = {(r["campaign"], r["currency"]): r for r in rows}
    assert by[("Spring plumbers", "USD")]["revenue_cents"] == str(USD_SALE)
    rows = _csv(client.get(URL, {"format": "csv", "chart": "campaigns"}))
    assert {r["name"]: r["sent"] for r in rows} == {"Spring plumbers": "3", "Dentists": "1"}
    rows = _csv(client.get(URL, {"format": "csv", "chart": "cohorts"}))
    assert sum(int(r["contacted"]) for r in rows) == 4
    rows = _csv(client.get(URL, {"format": "csv", "chart": "convert"}))
    assert {r["measure"]: float(r["days"]) for r in rows}["median"] == pytest.approx(13, abs=0.05)
    rows = _csv(client.get(URL, {"format": "csv", "chart": "stages"}))
    assert {r["status"] for r in rows} == {"pending", "emailed", "unsubscribed", "purchased"}


def test_scraped_names_are_escaped_on_the_page_and_defused_in_csv(client, staff_user, settings):
    build_world(settings)
    from crm.models import Business

    Business.objects.filter(name="Alpha").update(category='<img src=x onerror="alert(1)">')
    Business.objects.filter(name="Delta").update(category="=HYPERLINK(1)")
    client.force_login(staff_user)
    html = client.get(URL, {"section": "revenue"}).content.decode()
    assert '<img src=x onerror="alert(1)">' not in html
    assert "&lt;img src=x" in html
    rows = _csv(client.get(URL, {"format": "csv", "chart": "revenue"}))
    assert "'=HYPERLINK(1)" in {r["category"] for r in rows}


def test_campaign_table_sorts_by_link(client, staff_user, world):
    client.force_login(staff_user)
    html = client.get(URL, {"sort": "name", "section": "campaigns"}).content.decode()
    assert html.index("Dentists") < html.index("Spring plumbers", html.index('id="campaigns"'))
    assert 'aria-sort="ascending"' in html


# --- analytics API --------------------------------------------------------------------------


def _bearer(user):
    return {"HTTP_AUTHORIZATION": f"Bearer {token_create(user=user, name='t')[1]}"}


def test_api_funnel(client, viewer_user, world):
    body = client.get("/api/v1/crm/analytics/funnel?period=all", **_bearer(viewer_user)).json()
    assert body["period"]["key"] == "all"
    assert [s["count"] for s in body["stages"]] == [6, 4, 4, 5, 4, 3, 3, 3]


def test_api_conversion_rates(client, viewer_user, world):
    body = client.get(
        "/api/v1/crm/analytics/conversion-rates?group=week", **_bearer(viewer_user)
    ).json()
    assert [c["contacted"] for c in body["cohorts"]] == [3, 1]
    assert body["converted"] == 2 and body["median_days_to_convert"] == pytest.approx(13, abs=0.05)


def test_api_revenue_by_source(client, viewer_user, world):
    body = client.get(
        "/api/v1/crm/analytics/revenue-by-source?by=city", **_bearer(viewer_user)
    ).json()
    rows = {(r["label"], r["currency"]): r for r in body["rows"]}
    assert rows[("Austin, TX", "USD")]["revenue_cents"] == USD_SALE
    assert rows[("Austin, TX", "USD")]["mrr_cents"] == 9700


def test_api_campaign_performance(client, viewer_user, world):
    body = client.get(
        "/api/v1/crm/analytics/campaign-performance?sort=-sent", **_bearer(viewer_user)
    ).json()
    assert [c["name"] for c in body["campaigns"]] == ["Spring plumbers", "Dentists"]
    assert body["campaigns"][0]["revenue"] == [{"currency": "USD", "cents": USD_SALE}]


@pytest.mark.parametrize(
    "path",
    [
        "funnel?period=forever",
        "conversion-rates?group=day",
        "revenue-by-source?by=owner",
        "campaign-performance?sort=price",
    ],
)
def test_api_bad_parameters_are_422_naming_them(client, viewer_user, path):
    response = client.get(f"/api/v1/crm/analytics/{path}", **_bearer(viewer_user))
    assert response.status_code == 422
    name = path.split("?")[1].split("=")[0]
    assert any(name in item["loc"] for item in response.json()["detail"])


# --- API tokens -------------------------------------------------------------------------------

TOKENS = "/admin/crm/tokens/"


def test_token_page_is_for_superusers(client, sales_user):
    client.force_login(sales_user)
    assert client.get(TOKENS).status_code == 403
    assert client.post(TOKENS, {"name": "x", "user": sales_user.pk}).status_code == 403
    assert not ApiToken.objects.exists()


def test_superuser_creates_a_token_and_sees_the_key_once(client, superuser, viewer_user):
    client.force_login(superuser)
    response = client.post(TOKENS, {"name": "reporting", "user": viewer_user.pk})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    key = response.context["new_key"]
    assert key and key in response.content.decode()
    assert token_user(key) == viewer_user
    token = ApiToken.objects.get()
    assert token.created_by == superuser and key not in token.key_hash
    again = client.get(TOKENS).content.decode()
    assert key not in again and token.prefix in again


@pytest.mark.parametrize("data", [{"name": "", "user": "1"}, {"name": "x", "user": "nobody"}])
def test_bad_token_form_is_400_and_creates_nothing(client, superuser, data):
    client.force_login(superuser)
    assert client.post(TOKENS, data).status_code == 400
    assert not ApiToken.objects.exists()


def test_token_for_a_non_staff_user_is_refused(client, superuser, django_user_model):
    customer = django_user_model.objects.create_user("customer", password="x")
    client.force_login(superuser)
    assert client.post(TOKENS, {"name": "x", "user": customer.pk}).status_code == 400


def test_revoke_is_post_only_and_stops_the_key(client, superuser, viewer_user):
    token, key = token_create(user=viewer_user, name="old")
    client.force_login(superuser)
    url = f"/admin/crm/tokens/{token.pk}/revoke/"
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    assert token_user(key) is None
    api = client.get("/api/v1/crm/me", HTTP_AUTHORIZATION=f"Bearer {key}")
    # A revoked key is not a login, but the same request's session still authenticates the
    # superuser: the API tries the bearer token, then the session.
    assert api.status_code == 200
    client.logout()
    assert client.get("/api/v1/crm/me", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401


def test_revoke_needs_csrf(superuser, viewer_user):
    from django.test import Client

    token, key = token_create(user=viewer_user, name="old")
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(superuser)
    assert csrf_client.post(f"/admin/crm/tokens/{token.pk}/revoke/").status_code == 403
    assert token_user(key) == viewer_user


def test_create_api_token_command(staff_user, capsys):
    call_command("create_api_token", "staff", name="cron")
    key = capsys.readouterr().out.strip()
    assert token_user(key) == staff_user
    with pytest.raises(CommandError):
        call_command("create_api_token", "ghost", name="cron")
    with pytest.raises(CommandError):
        call_command("create_api_token", "staff", name="  ")


def test_create_api_token_refuses_non_staff(django_user_model):
    django_user_model.objects.create_user("customer", password="x")
    with pytest.raises(CommandError):
        call_command("create_api_token", "customer", name="x")


def test_dashboard_and_crm_pages_still_resolve(client, staff_user):
    business_create(data={"name": "Joe", "city": "Austin"}, source="test")
    client.force_login(staff_user)
    assert client.get("/admin/crm/").status_code == 200
    assert client.get("/admin/crm/leads/").status_code == 200


@pytest.mark.parametrize(
    ("section", "queries"),
    [
        ("funnel", 7),
        ("cohorts", 4),
        ("revenue", 5),
        ("campaigns", 6),
        ("convert", 4),
        ("stages", 4),
    ],
)
def test_each_tab_is_a_few_grouped_queries(
    client, staff_user, world, django_assert_max_num_queries, section, queries
):
    """Session, user and the nav's unread count, then the tab's grouped queries (one to
    four): the count does not grow with the number of leads."""
    client.force_login(staff_user)
    with django_assert_max_num_queries(queries):
        assert client.get(URL, {"section": section, "period": "90d"}).status_code == 200
