"""Billing in the CRM: the billing page, cancelling a subscription, abandoned checkouts, MRR
from the rows, and the JSON API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Checkout, CheckoutStatus, Subscription, SubscriptionState
from billing.queries import mrr_by_currency, revenue_by_currency
from billing.services import checkouts_expire
from crm.models import LeadEvent, LeadEventKind
from tests.billing.conftest import make_checkout, post_signed, sample

pytestmark = pytest.mark.django_db

HOME = "/admin/crm/billing/"
PURCHASE = "/p/joes-plumbing/purchase/"


def _sandbox_customer(client, site) -> Subscription:
    """A customer made the way make run makes one: Purchase → sandbox Pay."""
    location = client.post(PURCHASE)["Location"]
    client.post(location, {"action": "pay"})
    return Subscription.objects.get()


def test_billing_page_needs_staff(client):
    response = client.get(HOME)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_billing_page_lists_subscriptions_customers_and_mrr(client, site, business, viewer_user):
    sub = _sandbox_customer(client, site)
    client.force_login(viewer_user)
    response = client.get(HOME)
    assert response.status_code == 200
    html = response.content.decode()
    assert sub.provider_subscription_id in html
    assert "$97.00 / month" in html
    assert "Joe&#x27;s Plumbing" in html
    assert 'id="mrr">$97.00<' in html
    assert "$497.00" in html  # revenue: setup + first month
    assert "billing:subscription-cancel" not in html and "/cancel/" not in html  # viewer


def test_billing_page_query_count_does_not_grow_with_rows(client, site, business, staff_user):
    _sandbox_customer(client, site)
    client.force_login(staff_user)
    with CaptureQueriesContext(connection) as one:
        client.get(HOME)
    from crm.services import business_create
    from sites.models import Site

    for i in range(4):
        b = business_create(data={"name": f"Shop {i}", "email": f"s{i}@ex.com"}, source="test")
        s = Site.objects.create(business=b, slug=f"shop-{i}", html="x")
        location = client.post(f"/p/{s.slug}/purchase/")["Location"]
        client.post(location, {"action": "pay"})
    assert Subscription.objects.count() == 5
    with CaptureQueriesContext(connection) as five:
        client.get(HOME)
    assert len(five) == len(one)


def test_mrr_and_revenue_come_from_the_rows_per_currency(client, site, business):
    make_checkout(site)  # GTQ, 100.00/month
    post_signed(client, sample("payment_intent_succeeded"))
    assert mrr_by_currency() == {"GTQ": 10000}
    assert revenue_by_currency() == {"GTQ": 10000}
    post_signed(client, {**sample("subscription_cancel"), "id": "su_id123"})
    assert mrr_by_currency() == {}
    assert revenue_by_currency() == {"GTQ": 10000}


def test_superuser_cancels_and_the_webhook_confirms(client, site, business, superuser):
    sub = _sandbox_customer(client, site)
    client.force_login(superuser)
    assert "/cancel/" in client.get(HOME).content.decode()
    response = client.post(f"/admin/crm/billing/subscriptions/{sub.pk}/cancel/")
    assert response.status_code == 302
    sub.refresh_from_db()
    # The sandbox answers with a signed subscription.cancel through the webhook path.
    assert sub.cancel_requested_at is not None
    assert sub.status == SubscriptionState.CANCELLED
    site.refresh_from_db()
    assert (site.status, site.subscription_status) == ("suspended", "cancelled")
    summaries = list(
        LeadEvent.objects.filter(business=business, kind=LeadEventKind.SUBSCRIPTION).values_list(
            "summary", "actor"
        )
    )
    assert any(s.startswith("Subscription cancellation requested") and a for s, a in summaries)
    assert any(s.startswith("Subscription cancelled") for s, _ in summaries)


def test_cancel_with_the_real_backend_waits_for_the_webhook(client, site, superuser, settings):
    from tests.billing.test_recurrente_client import PUBLIC, SECRET, FakeRecurrente

    sub = _sandbox_customer(client, site)
    client.force_login(superuser)
    with FakeRecurrente() as fake:
        settings.PAYMENTS_BACKEND = "billing.backends.RecurrenteBackend"
        settings.RECURRENTE_PUBLIC_KEY, settings.RECURRENTE_SECRET_KEY = PUBLIC, SECRET
        settings.RECURRENTE_API_BASE = fake.url
        fake_sub_path = f"/api/subscriptions/{sub.provider_subscription_id}"
        client.post(f"/admin/crm/billing/subscriptions/{sub.pk}/cancel/")
    assert [(r["method"], r["path"]) for r in fake.requests] == [("DELETE", fake_sub_path)]
    sub.refresh_from_db()
    # The fake answers 404 for unknown ids: the provider refused, nothing was marked.
    assert sub.cancel_requested_at is None
    assert sub.status == SubscriptionState.ACTIVE


def test_cancel_needs_a_superuser_and_post(client, site, sales_user):
    sub = _sandbox_customer(client, site)
    client.force_login(sales_user)
    assert client.post(f"/admin/crm/billing/subscriptions/{sub.pk}/cancel/").status_code == 403
    sub.refresh_from_db()
    assert sub.cancel_requested_at is None


def test_cancel_asks_for_confirmation_first_and_a_get_changes_nothing(
    client, site, superuser, viewer_user
):
    sub = _sandbox_customer(client, site)
    client.force_login(viewer_user)
    assert client.get(f"/admin/crm/billing/subscriptions/{sub.pk}/cancel/").status_code == 403
    client.force_login(superuser)
    listed = client.get(HOME).content.decode()
    assert f'href="/admin/crm/billing/subscriptions/{sub.pk}/cancel/">Cancel…</a>' in listed
    page = client.get(f"/admin/crm/billing/subscriptions/{sub.pk}/cancel/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Cancel this subscription?" in html and sub.provider_subscription_id in html
    assert "$97.00 / month" in html and "Joe&#x27;s Plumbing" in html
    assert f'<form method="post" action="/admin/crm/billing/subscriptions/{sub.pk}/cancel/"' in html
    sub.refresh_from_db()
    assert sub.cancel_requested_at is None and sub.status == SubscriptionState.ACTIVE


# --- abandoned checkouts ----------------------------------------------------------------------


def _age(checkout: Checkout, minutes: int) -> None:
    Checkout.objects.filter(pk=checkout.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_stale_open_checkouts_are_abandoned_once(client, site, business, settings, staff_user):
    settings.CHECKOUT_ABANDON_MINUTES = 60
    client.post(PURCHASE)
    checkout = Checkout.objects.get()
    assert checkouts_expire() == 0
    _age(checkout, 61)
    assert checkouts_expire() == 1
    assert checkouts_expire() == 0
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.ABANDONED and checkout.abandoned_at is not None
    line = LeadEvent.objects.filter(business=business, summary__startswith="Checkout abandoned")
    assert line.count() == 1
    client.force_login(staff_user)
    html = client.get(HOME).content.decode()
    assert 'id="abandoned-total">1<' in html
    # A new click after abandonment starts a fresh checkout.
    client.post(PURCHASE)
    assert Checkout.objects.filter(status=CheckoutStatus.OPEN).count() == 1


def test_an_abandoned_checkout_paid_later_still_counts(client, site, business):
    checkout = make_checkout(site)
    _age(checkout, 10_000)
    checkouts_expire()
    post_signed(client, sample("payment_intent_succeeded"))
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID
    business.refresh_from_db()
    assert business.contact_status == "purchased"


def test_expire_checkouts_command(client, site, capsys):
    client.post(PURCHASE)
    _age(Checkout.objects.get(), 100_000)
    call_command("expire_checkouts")
    assert "1 checkout(s) marked abandoned" in capsys.readouterr().out


def test_the_expiry_schedule_exists():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="billing.checkouts_expire")
    assert schedule.func == "billing.tasks.checkouts_expire"
    from billing.tasks import checkouts_expire as task

    assert task() == 0


def test_reminder_email_is_sent_once_through_the_campaigns_path(client, site, business, settings):
    settings.CHECKOUT_REMINDER_EMAIL = True
    client.post(PURCHASE)
    checkout = Checkout.objects.get()
    _age(checkout, 100_000)
    checkouts_expire()
    checkouts_expire()
    checkout.refresh_from_db()
    assert checkout.reminder_sent_at is not None
    assert len(mail.outbox) == 1
    assert "Joe's Plumbing" in mail.outbox[0].subject
    from campaigns.models import Message

    message = Message.objects.get(business=business)  # the one-off, with its tracked link
    assert message.site == site
    assert f"https://crm.example.com/c/{message.token}/" in mail.outbox[0].body


# --- API ----------------------------------------------------------------------------------------


def test_api_summary_and_lists(client, site, business, viewer_user):
    sub = _sandbox_customer(client, site)
    assert client.get("/api/v1/billing/summary").status_code == 401
    client.force_login(viewer_user)
    summary = client.get("/api/v1/billing/summary").json()
    assert summary["mrr"] == [{"currency": "USD", "cents": 9700, "display": "$97.00"}]
    assert summary["revenue"] == [{"currency": "USD", "cents": 49700, "display": "$497.00"}]
    assert summary["active_subscriptions"] == 1
    subs = client.get("/api/v1/billing/subscriptions", {"business": business.pk}).json()
    assert [s["provider_subscription_id"] for s in subs] == [sub.provider_subscription_id]
    assert subs[0]["amount_cents"] == 9700 and subs[0]["business_id"] == business.pk
    payments = client.get("/api/v1/billing/payments", {"status": "succeeded"}).json()
    assert [p["amount_cents"] for p in payments] == [49700]


def test_lead_payments_fragment_shows_the_payments(client, site, business):
    from django.template.loader import render_to_string

    sub = _sandbox_customer(client, site)
    html = render_to_string("billing/lead_payments.html", {"business": business})
    assert "$497.00" in html
    assert sub.provider_subscription_id in html


def test_real_cancel_marks_the_request_and_the_webhook_finishes_it(
    client, site, business, superuser, settings
):
    from tests.billing.test_recurrente_client import PUBLIC, SECRET, FakeRecurrente

    make_checkout(site)
    paid = sample("payment_intent_succeeded")
    paid["payment"]["paymentable"]["id"] = "su_abc"  # the id the fake provider knows
    post_signed(client, paid)
    sub = Subscription.objects.get(provider_subscription_id="su_abc")
    client.force_login(superuser)
    with FakeRecurrente() as fake:
        settings.PAYMENTS_BACKEND = "billing.backends.RecurrenteBackend"
        settings.RECURRENTE_PUBLIC_KEY, settings.RECURRENTE_SECRET_KEY = PUBLIC, SECRET
        settings.RECURRENTE_API_BASE = fake.url
        client.post(f"/admin/crm/billing/subscriptions/{sub.pk}/cancel/")
    assert [(r["method"], r["path"]) for r in fake.requests] == [
        ("DELETE", "/api/subscriptions/su_abc")
    ]
    sub.refresh_from_db()
    assert sub.cancel_requested_at is not None
    assert sub.status == SubscriptionState.ACTIVE  # until Recurrente confirms
    assert "cancellation requested" in client.get(HOME).content.decode()
    post_signed(client, {**sample("subscription_cancel"), "id": "su_abc"})
    sub.refresh_from_db()
    assert sub.status == SubscriptionState.CANCELLED


def test_no_reminder_to_a_suppressed_address(client, site, business, settings):
    from campaigns.suppression import suppression_add

    settings.CHECKOUT_REMINDER_EMAIL = True
    suppression_add(kind="email", value=business.email, reason="complaint", source="test")
    client.post(PURCHASE)
    _age(Checkout.objects.get(), 100_000)
    checkouts_expire()
    assert mail.outbox == []
    assert LeadEvent.objects.filter(
        business=business, summary__startswith="Checkout reminder not sent"
    ).exists()


def test_api_cancel_needs_a_superuser_token(client, site, sales_user, superuser):
    from crm.tokens import token_create

    sub = _sandbox_customer(client, site)
    url = f"/api/v1/billing/subscriptions/{sub.pk}/cancel"
    _, sales_key = token_create(user=sales_user, name="t")
    r = client.post(url, HTTP_AUTHORIZATION=f"Bearer {sales_key}")
    assert r.status_code == 403
    sub.refresh_from_db()
    assert sub.cancel_requested_at is None
    _, root_key = token_create(user=superuser, name="t")
    r = client.post(url, HTTP_AUTHORIZATION=f"Bearer {root_key}")
    assert r.status_code == 200
    assert r.json()["requested"] is True
    assert r.json()["status"] == "cancelled"  # the sandbox's webhook arrived at once
    r = client.post(url, HTTP_AUTHORIZATION=f"Bearer {root_key}")
    assert r.json()["requested"] is False
    assert (
        client.post(
            "/api/v1/billing/subscriptions/999999/cancel", HTTP_AUTHORIZATION=f"Bearer {root_key}"
        ).status_code
        == 404
    )


def test_billing_page_counts_subscriptions_by_status_and_recent_churn(client, site, staff_user):
    make_checkout(site)
    post_signed(client, sample("payment_intent_succeeded"))
    client.force_login(staff_user)
    assert (
        "1 active · 0 past due · 0 paused · 0 cancelled in 30 days"
        in client.get(HOME).content.decode()
    )
    recent = {**sample("subscription_cancel"), "id": "su_id123"}
    recent["created_at"] = timezone.now().isoformat()
    post_signed(client, recent)
    assert (
        "0 active · 0 past due · 0 paused · 1 cancelled in 30 days"
        in client.get(HOME).content.decode()
    )


def test_payments_csv_goes_through_the_one_writer(client, staff_user, site, business):
    """Every CSV defuses formulas: a scraped lead name starting with "=" is text."""
    import csv
    import io

    from crm.models import Business

    Business.objects.filter(pk=business.pk).update(name='=HYPERLINK("http://x")')
    make_checkout(site)
    post_signed(client, sample("payment_intent_succeeded"))
    client.force_login(staff_user)
    response = client.get("/admin/crm/billing/payments.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    assert rows[0]["lead"] == '\'=HYPERLINK("http://x")'
    assert (rows[0]["amount_cents"], rows[0]["amount"], rows[0]["kind"]) == (
        "10000",
        "Q100.00",
        "Purchase (setup + first month)",
    )
    assert client.get("/admin/crm/billing/payments.csv?period=forever").status_code == 400
