"""The purchase flow from the public preview: POST /p/<slug>/purchase/ → checkout → pay."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.template.loader import render_to_string
from django.test import Client

from billing.models import Checkout, CheckoutStatus, Payment, PaymentStatus
from crm.models import LeadEvent, LeadEventKind, ProviderEvent
from tests.billing.conftest import make_checkout, post_signed, sample
from tests.billing.test_recurrente_client import PUBLIC, SECRET, FakeRecurrente

pytestmark = pytest.mark.django_db

PURCHASE = "/p/joes-plumbing/purchase/"


def test_purchase_box_shows_plan_price_and_a_post_form(site, rf, settings):
    settings.SETUP_FEE_CENTS = 40000
    settings.MONTHLY_PRICE_CENTS = 9700
    html = render_to_string("billing/purchase_box.html", {"site": site}, request=rf.get("/"))
    assert "$400.00" in html and "$97.00 / month" in html
    assert 'method="post"' in html and f'action="{PURCHASE}"' in html
    assert "csrfmiddlewaretoken" in html


def test_purchase_box_in_quetzales(site, rf, settings):
    settings.PRICE_CURRENCY = "GTQ"
    settings.SETUP_FEE_CENTS = 300050
    html = render_to_string("billing/purchase_box.html", {"site": site}, request=rf.get("/"))
    assert "Q3,000.50" in html


def test_purchase_box_for_a_purchased_site_has_no_form(client, site):
    make_checkout(site)
    post_signed(client, sample("payment_intent_succeeded"))
    site.refresh_from_db()
    html = render_to_string("billing/purchase_box.html", {"site": site})
    assert "<form" not in html
    assert "live" in html


def test_purchase_creates_a_sandbox_checkout_and_makes_the_lead_interested(client, site, business):
    response = client.post(PURCHASE)
    checkout = Checkout.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/billing/sandbox/{checkout.provider_checkout_id}/"
    assert checkout.status == CheckoutStatus.OPEN
    assert (checkout.site, checkout.business, checkout.message) == (site, business, None)
    assert (checkout.setup_fee_cents, checkout.monthly_price_cents, checkout.currency) == (
        40000,
        9700,
        "USD",
    )
    assert checkout.metadata["wm_checkout"] == str(checkout.pk)
    assert checkout.metadata["wm_site"] == str(site.pk)
    assert checkout.metadata["wm_business"] == str(business.pk)
    business.refresh_from_db()
    assert business.contact_status == "interested"
    assert LeadEvent.objects.filter(business=business, kind=LeadEventKind.CHECKOUT).exists()


def test_second_click_reuses_the_open_checkout(client, site):
    first = client.post(PURCHASE)
    second = client.post(PURCHASE)
    assert Checkout.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_get_never_creates_a_checkout(client, site, business):
    assert client.get(PURCHASE).status_code == 405
    assert not Checkout.objects.exists()
    business.refresh_from_db()
    assert business.contact_status == "pending"


def test_purchase_without_csrf_token_is_refused(site, business):
    response = Client(enforce_csrf_checks=True).post(PURCHASE)
    assert response.status_code == 403
    assert not Checkout.objects.exists()


def test_purchase_is_rate_limited_per_client_ip(site, settings):
    settings.PURCHASE_RATE_LIMIT = 3
    a = Client(REMOTE_ADDR="203.0.113.5")
    codes = [a.post(PURCHASE).status_code for _ in range(4)]
    assert codes == [302, 302, 302, 429]
    b = Client(REMOTE_ADDR="203.0.113.6")
    assert b.post(PURCHASE).status_code == 302


def test_unknown_site_is_404(client):
    assert client.post("/p/nope/purchase/").status_code == 404


def test_an_orphan_whose_content_cannot_make_a_lead_cannot_be_bought(client, db):
    from sites.models import Site

    Site.objects.create(slug="orphan", html="x")
    response = client.post("/p/orphan/purchase/")
    assert response.status_code == 409
    assert not Checkout.objects.exists()


def test_live_site_cannot_be_bought_again(client, site):
    make_checkout(site)
    post_signed(client, sample("payment_intent_succeeded"))
    response = client.post(PURCHASE)
    assert response.status_code == 409
    assert Checkout.objects.count() == 1


def test_the_message_that_brought_the_visitor_goes_into_the_metadata(client, site, business):
    from campaigns.models import Message

    message = Message.objects.create(
        business=business, site=site, channel="email", to_address=business.email, token="tok123"
    )
    session = client.session
    session["wm_message"] = message.pk
    session.save()
    client.post(PURCHASE)
    checkout = Checkout.objects.get()
    assert checkout.message == message
    assert checkout.metadata["wm_message"] == str(message.pk)


def test_a_message_cookie_of_another_lead_is_ignored(client, site, business):
    from campaigns.models import Message
    from crm.services import business_create

    other = business_create(data={"name": "Other Co", "city": "Austin"}, source="test")
    message = Message.objects.create(business=other, channel="email", token="tokother")
    client.cookies["wm_message"] = message.token
    client.post(PURCHASE)
    assert Checkout.objects.get().message is None


def test_sandbox_pay_makes_the_lead_a_customer_through_the_webhook_path(client, site, business):
    location = client.post(PURCHASE)["Location"]
    page = client.get(location)
    assert page.status_code == 200
    assert b"SANDBOX" in page.content
    assert page["X-Robots-Tag"] == "noindex, nofollow"
    response = client.post(location, {"action": "pay"})
    assert response.status_code == 302
    assert response["Location"].endswith("/p/joes-plumbing/purchase/done/")

    checkout = Checkout.objects.get()
    assert checkout.status == CheckoutStatus.PAID
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.amount_cents == 40000 + 9700 and payment.currency == "USD"
    sub = payment.subscription
    assert (sub.amount_cents, sub.interval, sub.status) == (9700, "month", "active")
    events = ProviderEvent.objects.filter(provider="recurrente").order_by("pk")
    assert [e.event_type for e in events] == ["payment_intent.succeeded", "subscription.create"]
    assert all(e.status == "processed" for e in events)
    business.refresh_from_db()
    assert (business.contact_status, business.website_status) == ("purchased", "sold")
    site.refresh_from_db()
    assert site.status == "active"
    assert client.get("/p/joes-plumbing/purchase/done/").status_code == 200


def test_sandbox_decline_records_a_failed_payment_and_keeps_the_checkout_open(client, site):
    location = client.post(PURCHASE)["Location"]
    client.post(location, {"action": "decline"})
    assert Payment.objects.get().status == PaymentStatus.FAILED
    assert Checkout.objects.get().status == CheckoutStatus.OPEN
    assert b"Declined" in client.get(location).content


def test_sandbox_refuses_to_run_with_real_keys(client, site, settings):
    from billing.backends import SandboxBackend

    settings.RECURRENTE_PUBLIC_KEY = "pk_live_123"
    settings.RECURRENTE_SECRET_KEY = "sk_live_123"
    with pytest.raises(ImproperlyConfigured):
        SandboxBackend()
    checkout = make_checkout(site, provider_id="ch_sandbox_x")
    with pytest.raises(ImproperlyConfigured):
        client.get(f"/billing/sandbox/{checkout.provider_checkout_id}/")


def test_sandbox_page_is_404_with_the_real_backend(client, site, settings):
    settings.PAYMENTS_BACKEND = "billing.backends.RecurrenteBackend"
    settings.RECURRENTE_PUBLIC_KEY, settings.RECURRENTE_SECRET_KEY = PUBLIC, SECRET
    checkout = make_checkout(site, provider_id="ch_sandbox_y")
    assert client.get(f"/billing/sandbox/{checkout.provider_checkout_id}/").status_code == 404


def test_recurrente_backend_creates_the_checkout_at_the_provider(client, site, business, settings):
    with FakeRecurrente() as fake:
        settings.PAYMENTS_BACKEND = "billing.backends.RecurrenteBackend"
        settings.RECURRENTE_PUBLIC_KEY, settings.RECURRENTE_SECRET_KEY = PUBLIC, SECRET
        settings.RECURRENTE_API_BASE = fake.url
        response = client.post(PURCHASE)
    assert response.status_code == 302
    assert response["Location"] == "https://app.recurrente.com/c/ch_test123"
    checkout = Checkout.objects.get()
    assert checkout.provider_checkout_id == "ch_test123"
    (req,) = fake.requests
    body = req["body"]
    assert body["metadata"] == checkout.metadata
    assert body["success_url"] == "http://testserver/p/joes-plumbing/purchase/done/"
    assert body["cancel_url"] == "http://testserver/p/joes-plumbing/purchase/cancelled/"
    setup, monthly = body["items"]
    assert (setup["amount_in_cents"], setup["currency"]) == (40000, "USD")
    assert (monthly["amount_in_cents"], monthly["charge_type"], monthly["billing_interval"]) == (
        9700,
        "recurring",
        "month",
    )


def test_provider_failure_saves_nothing_and_leaves_the_lead(client, site, business, settings):
    with FakeRecurrente() as fake:
        fake.checkout_status = 500
        settings.PAYMENTS_BACKEND = "billing.backends.RecurrenteBackend"
        settings.RECURRENTE_PUBLIC_KEY, settings.RECURRENTE_SECRET_KEY = PUBLIC, SECRET
        settings.RECURRENTE_API_BASE = fake.url
        response = client.post(PURCHASE)
    assert response.status_code == 502
    assert b"Nothing was charged" in response.content
    assert not Checkout.objects.exists()
    business.refresh_from_db()
    assert business.contact_status == "pending"
    assert not LeadEvent.objects.filter(kind=LeadEventKind.CHECKOUT).exists()


def test_cancel_page_links_back_to_the_preview(client, site):
    response = client.get("/p/joes-plumbing/purchase/cancelled/")
    assert response.status_code == 200
    assert b"/p/joes-plumbing/" in response.content
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_without_a_hint_the_last_clicked_message_gets_the_credit(client, site, business):
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.lifecycle import message_mark_clicked
    from campaigns.models import Message

    older = Message.objects.create(business=business, channel="email", token="t_old")
    newer = Message.objects.create(business=business, channel="sms", token="t_new")
    Message.objects.create(business=business, channel="email", token="t_never")  # not clicked
    now = timezone.now()
    message_mark_clicked(message=older, at=now - timedelta(days=3))
    message_mark_clicked(message=newer, at=now - timedelta(hours=1))
    client.post(PURCHASE)
    assert Checkout.objects.get().message == newer


def test_a_replayed_payment_event_changes_nothing(client, site, business):
    from crm import inbox

    make_checkout(site)
    post_signed(client, sample("payment_intent_succeeded"), msg_id="msg_replay")
    lines = LeadEvent.objects.count()
    event = ProviderEvent.objects.get(event_id="msg_replay")
    assert inbox.replay(event, force=True).status == "processed"
    assert Payment.objects.count() == 1
    assert LeadEvent.objects.count() == lines


@pytest.mark.parametrize("down", ["suspended", "cancelled"])
def test_a_cancelled_customer_can_buy_again(client, site, business, settings, down):
    settings.CANCELLED_SITE_STATUS = down
    make_checkout(site)
    post_signed(client, sample("payment_intent_succeeded"))
    post_signed(client, {**sample("subscription_cancel"), "id": "su_id123"})
    site.refresh_from_db()
    assert site.status == down
    html = render_to_string("billing/purchase_box.html", {"site": site})
    assert f'action="{PURCHASE}"' in html
    location = client.post(PURCHASE)["Location"]
    client.post(location, {"action": "pay"})
    site.refresh_from_db()
    assert (site.status, site.subscription_status) == ("active", "active")


def test_staff_trying_the_button_do_not_make_the_lead_interested(
    client, site, business, staff_user
):
    client.force_login(staff_user)
    assert client.post(PURCHASE).status_code == 302
    assert Checkout.objects.count() == 1
    business.refresh_from_db()
    assert business.contact_status == "pending"
    assert LeadEvent.objects.filter(summary__startswith="Checkout started by staff").exists()
