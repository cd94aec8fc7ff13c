"""/webhooks/recurrente/: Svix verification, the inbox, and what each recorded sample does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from svix.webhooks import Webhook

from billing.models import (
    Checkout,
    CheckoutStatus,
    Customer,
    Payment,
    PaymentKind,
    PaymentStatus,
    Subscription,
    SubscriptionState,
)
from crm.models import LeadEvent, LeadEventKind, ProviderEvent, ProviderEventStatus
from sites.models import SiteStatus
from tests.billing.conftest import (
    SAMPLES,
    WEBHOOK_URL,
    make_checkout,
    post_signed,
    sample,
    svix_headers,
)

pytestmark = pytest.mark.django_db


def _reload(obj):
    obj.refresh_from_db()
    return obj


# --- Svix verification ------------------------------------------------------------------------


def test_svix_vector_verifies_with_its_own_timestamp():
    vector = json.loads((SAMPLES / "svix_signature_vector.json").read_text())
    wh = Webhook(vector["secret"])
    at = datetime.fromtimestamp(int(vector["svix-timestamp"]), tz=UTC)
    assert wh.sign(vector["svix-id"], at, vector["raw_body"]) == vector["expected_svix-signature"]


def test_svix_vector_is_rejected_as_stale_by_the_endpoint(client, settings):
    vector = json.loads((SAMPLES / "svix_signature_vector.json").read_text())
    settings.RECURRENTE_WEBHOOK_SECRET = vector["secret"]
    response = client.post(
        WEBHOOK_URL,
        data=vector["raw_body"],
        content_type="application/json",
        headers={
            "svix-id": vector["svix-id"],
            "svix-timestamp": vector["svix-timestamp"],
            "svix-signature": vector["expected_svix-signature"],
        },
    )
    assert response.status_code == 403
    assert not ProviderEvent.objects.exists()


def test_svix_vector_verifies_through_our_verifier_when_its_time_is_now(settings, monkeypatch):
    """The vector's exact body, id, secret and signature pass webhook_verify once the clock
    is set to the vector's timestamp."""
    import standardwebhooks.webhooks as std

    from billing.webhooks import webhook_verify

    vector = json.loads((SAMPLES / "svix_signature_vector.json").read_text())
    settings.RECURRENTE_WEBHOOK_SECRET = vector["secret"]
    at = datetime.fromtimestamp(int(vector["svix-timestamp"]), tz=UTC)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return at

    monkeypatch.setattr(std, "datetime", Frozen)  # svix's verifier reads the clock here
    headers = {
        "svix-id": vector["svix-id"],
        "svix-timestamp": vector["svix-timestamp"],
        "svix-signature": vector["expected_svix-signature"],
    }
    body = vector["raw_body"].encode()
    assert webhook_verify(body, headers, secret=vector["secret"]) == {"test": 2432232314}


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda h, b: ({**h, "svix-signature": "v1,AAAA"}, b), id="bad-signature"),
        pytest.param(lambda h, b: (h, b.replace(b"10000", b"99999")), id="tampered-body"),
        pytest.param(lambda h, b: ({k: v for k, v in h.items() if k != "svix-id"}, b), id="no-id"),
        pytest.param(
            lambda h, b: ({k: v for k, v in h.items() if k != "svix-signature"}, b), id="no-sig"
        ),
    ],
)
def test_bad_signature_or_missing_headers_get_403_and_store_nothing(client, site, mutate):
    checkout = make_checkout(site)
    body = json.dumps(sample("payment_intent_succeeded")).encode()
    headers, body = mutate(svix_headers(body), body)
    response = client.post(WEBHOOK_URL, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 403
    assert not ProviderEvent.objects.exists()
    assert not Payment.objects.exists()
    assert _reload(checkout).status == CheckoutStatus.OPEN


def test_stale_timestamp_gets_403(client, site):
    make_checkout(site)
    response = post_signed(
        client, sample("payment_intent_succeeded"), at=timezone.now() - timedelta(minutes=6)
    )
    assert response.status_code == 403
    assert not ProviderEvent.objects.exists()


def test_wrong_secret_gets_403(client, site):
    make_checkout(site)
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    response = post_signed(client, sample("payment_intent_succeeded"), secret=other)
    assert response.status_code == 403


def test_no_secret_configured_rejects_everything_when_not_sandbox(client, site, settings):
    settings.RECURRENTE_WEBHOOK_SECRET = ""
    settings.RECURRENTE_PUBLIC_KEY = "pk_live_x"
    settings.RECURRENTE_SECRET_KEY = "sk_live_x"
    settings.PAYMENTS_BACKEND = "billing.backends.RecurrenteBackend"
    make_checkout(site)
    assert post_signed(client, sample("payment_intent_succeeded")).status_code == 403
    assert not ProviderEvent.objects.exists()


def test_get_is_not_allowed(client):
    assert client.get(WEBHOOK_URL).status_code == 405


# --- payment samples ------------------------------------------------------------------------


def test_payment_succeeded_sample_makes_a_customer(client, site, business):
    checkout = make_checkout(site)
    response = post_signed(client, sample("payment_intent_succeeded"), msg_id="msg_pay_1")
    assert response.status_code == 200

    event = ProviderEvent.objects.get(provider="recurrente", event_id="msg_pay_1")
    assert event.status == ProviderEventStatus.PROCESSED
    assert event.event_type == "payment_intent.succeeded"
    assert event.business_id == business.pk

    payment = Payment.objects.get()
    assert payment.provider_payment_id == "pa_id123"
    assert (payment.amount_cents, payment.currency) == (10000, "GTQ")
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.kind == PaymentKind.SUBSCRIPTION
    assert payment.paid_at == event.occurred_at
    assert payment.checkout == checkout

    customer = Customer.objects.get()
    assert customer.provider_customer_id == "us_id123"
    assert (customer.name, customer.email) == ("Max Rodriguez", "hello@example.com")
    assert (customer.business, customer.site) == (business, site)

    sub = Subscription.objects.get()
    assert sub.provider_subscription_id == "su_id123"
    assert sub.status == SubscriptionState.ACTIVE
    assert (sub.customer, sub.site, sub.checkout) == (customer, site, checkout)
    assert (sub.amount_cents, sub.currency) == (10000, "GTQ")
    assert sub.current_period_start == payment.paid_at
    assert sub.current_period_end.month == 3 and sub.current_period_end.day == 16
    assert payment.subscription == sub

    site.refresh_from_db()
    assert site.status == SiteStatus.ACTIVE
    assert site.purchased_at == payment.paid_at
    assert site.subscription_status == "active"
    assert site.subscription_started_at is not None

    business.refresh_from_db()
    assert business.contact_status == "purchased"
    assert business.website_status == "sold"
    assert _reload(checkout).status == CheckoutStatus.PAID
    kinds = set(LeadEvent.objects.filter(business=business).values_list("kind", flat=True))
    assert {LeadEventKind.PAYMENT, LeadEventKind.CHECKOUT, LeadEventKind.CONTACT_STATUS} <= kinds


def test_every_sample_delivered_twice_with_one_svix_id_is_applied_once(client, site, business):
    make_checkout(site)
    names = [
        "payment_intent_succeeded",
        "subscription_create",
        "subscription_past_due",
    ]
    payloads = [sample(n) for n in names]
    for p in payloads[1:]:  # chain the documentation's placeholder ids
        p["id"] = "su_id123"
    for i, payload in enumerate(payloads):
        for _ in range(2):
            assert post_signed(client, payload, msg_id=f"msg_dup_{i}").status_code == 200
    assert ProviderEvent.objects.count() == 3
    assert Payment.objects.count() == 1
    assert Subscription.objects.get().status == SubscriptionState.PAST_DUE
    events = LeadEvent.objects.filter(business=business)
    assert events.filter(kind=LeadEventKind.PAYMENT).count() == 1
    assert events.filter(kind=LeadEventKind.SUBSCRIPTION).count() == 1  # past due


def test_same_payment_under_a_new_svix_id_changes_nothing_twice(client, site, business):
    make_checkout(site)
    post_signed(client, sample("payment_intent_succeeded"), msg_id="msg_a")
    before = LeadEvent.objects.count()
    post_signed(client, sample("payment_intent_succeeded"), msg_id="msg_b")
    assert ProviderEvent.objects.filter(status=ProviderEventStatus.PROCESSED).count() == 2
    assert Payment.objects.count() == 1
    assert LeadEvent.objects.count() == before


def test_payment_failed_sample_records_reason_and_leaves_the_lead(client, site, business):
    checkout = make_checkout(site)
    before = business.contact_status
    assert post_signed(client, sample("payment_intent_failed")).status_code == 200
    payment = Payment.objects.get(provider_payment_id="pa_id123")
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_reason.startswith("Tu banco ha rechazado")
    assert payment.failed_at is not None and payment.paid_at is None
    assert _reload(business).contact_status == before
    assert _reload(checkout).status == CheckoutStatus.OPEN
    assert _reload(site).status == SiteStatus.PREVIEW
    line = LeadEvent.objects.get(business=business, kind=LeadEventKind.PAYMENT)
    assert "Payment failed" in line.summary and "Tu banco" in line.summary


def test_a_later_success_updates_the_failed_row(client, site, business):
    make_checkout(site)
    post_signed(client, sample("payment_intent_failed"))
    post_signed(client, sample("payment_intent_succeeded"))
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.paid_at is not None
    assert payment.failure_reason == ""
    assert _reload(business).contact_status == "purchased"


def test_a_late_failure_never_undoes_a_success(client, site, business):
    make_checkout(site)
    post_signed(client, sample("payment_intent_succeeded"))
    post_signed(client, sample("payment_intent_failed"))
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    assert _reload(business).contact_status == "purchased"


def test_live_capture_one_time_payment_links_through_the_checkout(client, site, business):
    checkout = make_checkout(site, provider_id="ch_r6wjdigrt0jzyzcw", monthly=1000)
    assert post_signed(client, sample("payment_intent_succeeded_live_capture")).status_code == 200
    payment = Payment.objects.get()
    assert payment.provider_payment_id == "pa_hl6jmewm"  # not the nested payment.id
    assert payment.kind == PaymentKind.SETUP
    assert (payment.amount_cents, payment.currency) == (1000, "GTQ")
    assert payment.checkout == checkout
    assert not Subscription.objects.exists()
    assert Customer.objects.get().provider_customer_id == "cus_opyo3dtr"
    assert _reload(site).status == SiteStatus.ACTIVE
    assert _reload(business).contact_status == "purchased"


def test_one_time_payment_found_by_metadata_when_the_checkout_id_is_unknown(client, site):
    checkout = make_checkout(site, provider_id="ch_other")
    payload = sample("payment_intent_succeeded_live_capture")
    payload["checkout"]["metadata"] = {"wm_checkout": str(checkout.pk)}
    post_signed(client, payload)
    assert Payment.objects.get().checkout == checkout


def test_bank_transfer_sample_has_the_effects_of_a_card_payment(client, site, business):
    make_checkout(site, provider_id="ch_5wlclm4jqpg3fe09")
    assert post_signed(client, sample("bank_transfer_intent_succeeded")).status_code == 200
    payment = Payment.objects.get(provider_payment_id="ba_123")
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.method == "bank_transfer"
    assert Customer.objects.get().provider_customer_id == "us_t8nlvpwq"
    assert _reload(site).status == SiteStatus.ACTIVE
    business.refresh_from_db()
    assert (business.contact_status, business.website_status) == ("purchased", "sold")


def test_payment_for_an_unknown_checkout_is_kept_unmatched(client):
    assert post_signed(client, sample("payment_intent_succeeded")).status_code == 200
    event = ProviderEvent.objects.get()
    assert event.status == ProviderEventStatus.UNMATCHED
    assert event.next_attempt_at is not None
    assert not Payment.objects.exists()


# --- subscription samples -------------------------------------------------------------------


def _paid_subscription(client, site, sub_id="su_123"):
    make_checkout(site)
    payment = sample("payment_intent_succeeded")
    payment["payment"]["paymentable"]["id"] = sub_id
    post_signed(client, payment)
    return Subscription.objects.get(provider_subscription_id=sub_id)


def test_subscription_create_sample_sets_plan_and_price(client, site):
    sub = _paid_subscription(client, site)
    assert post_signed(client, sample("subscription_create")).status_code == 200
    sub.refresh_from_db()
    assert sub.status == SubscriptionState.ACTIVE
    assert (sub.amount_cents, sub.currency, sub.interval) == (999, "GTQ", "month")
    assert sub.plan_name == "Plan de Prueba"


@pytest.mark.parametrize(
    ("name", "status"),
    [("subscription_past_due", "past_due"), ("subscription_paused", "paused")],
)
def test_subscription_status_samples_move_subscription_and_site(
    client, site, business, name, status
):
    sub = _paid_subscription(client, site)
    assert post_signed(client, sample(name)).status_code == 200
    assert _reload(sub).status == status
    site.refresh_from_db()
    assert site.subscription_status == status
    assert site.status == SiteStatus.ACTIVE
    assert LeadEvent.objects.filter(business=business, kind=LeadEventKind.SUBSCRIPTION).exists()


@pytest.mark.parametrize("down", ["suspended", "cancelled"])
def test_subscription_cancel_sample_takes_the_site_down_per_setting(client, site, settings, down):
    settings.CANCELLED_SITE_STATUS = down
    sub = _paid_subscription(client, site)
    assert post_signed(client, sample("subscription_cancel")).status_code == 200
    sub.refresh_from_db()
    assert sub.status == SubscriptionState.CANCELLED
    assert sub.cancelled_at is not None
    site.refresh_from_db()
    assert site.status == down
    assert site.subscription_status == "cancelled"
    assert site.subscription_ends_at == sub.cancelled_at
    # A customer stays a customer.
    assert site.business.contact_status == "purchased"


def test_cancelled_is_final_for_later_status_events(client, site):
    sub = _paid_subscription(client, site)
    post_signed(client, sample("subscription_cancel"))
    late = sample("subscription_past_due")
    late["created_at"] = "2030-01-01T00:00:00Z"
    post_signed(client, late)
    assert _reload(sub).status == SubscriptionState.CANCELLED


def test_an_older_status_event_does_not_overwrite_a_newer_one(client, site):
    sub = _paid_subscription(client, site)
    newer = sample("subscription_paused")
    newer["created_at"] = "2025-10-14T00:00:00Z"
    post_signed(client, newer)
    post_signed(client, sample("subscription_past_due"))  # 2025-10-13, delivered late
    assert _reload(sub).status == SubscriptionState.PAUSED


def test_subscription_event_before_its_payment_waits_then_applies(client, site, business):
    create = sample("subscription_create")
    past_due = sample("subscription_past_due")
    post_signed(client, create, msg_id="msg_create")
    post_signed(client, past_due, msg_id="msg_past_due")
    waiting = ProviderEvent.objects.filter(status=ProviderEventStatus.UNMATCHED)
    assert waiting.count() == 2
    assert not Subscription.objects.exists()

    _paid_subscription(client, site)  # the payment names su_123
    assert not ProviderEvent.objects.filter(status=ProviderEventStatus.UNMATCHED).exists()
    sub = Subscription.objects.get(provider_subscription_id="su_123")
    assert sub.status == SubscriptionState.PAST_DUE
    assert sub.amount_cents == 999
    assert _reload(site).subscription_status == "past_due"


def test_a_renewal_payment_brings_a_past_due_subscription_back(client, site):
    sub = _paid_subscription(client, site)
    post_signed(client, sample("subscription_past_due"))
    renewal = sample("payment_intent_succeeded")
    renewal["id"] = "pa_renewal"
    renewal["checkout"] = {"id": "ch_renewal_unknown"}
    renewal["payment"]["paymentable"]["id"] = "su_123"
    renewal["created_at"] = "2026-01-01T00:00:00Z"
    post_signed(client, renewal)
    sub.refresh_from_db()
    assert sub.status == SubscriptionState.ACTIVE
    assert Payment.objects.get(provider_payment_id="pa_renewal").subscription == sub
    assert sub.current_period_end.year == 2026 and sub.current_period_end.month == 2
    assert _reload(site).subscription_status == "active"


def test_setup_intent_sample_goes_on_the_timeline_without_a_payment(client, site, business):
    _paid_subscription(client, site, sub_id="su_vh8v33ac")
    payments = Payment.objects.count()
    assert post_signed(client, sample("setup_intent_succeeded")).status_code == 200
    assert ProviderEvent.objects.get(event_type="setup_intent.succeeded").status == "processed"
    assert Payment.objects.count() == payments
    assert LeadEvent.objects.filter(business=business, summary__startswith="Card saved").exists()


def test_unknown_event_types_are_stored_and_shown(client, site, superuser):
    payload = {"id": "zz_1", "event_type": "invoice.something_new", "created_at": "2026-01-01"}
    assert post_signed(client, payload, msg_id="msg_unknown").status_code == 200
    event = ProviderEvent.objects.get(event_id="msg_unknown")
    assert event.status == ProviderEventStatus.IGNORED
    assert "invoice.something_new" in event.error
    client.force_login(superuser)
    page = client.get("/admin/crm/billing/")
    assert b"invoice.something_new" in page.content


def test_checkout_metadata_message_is_converted(client, site, business):
    from campaigns.models import Message

    message = Message.objects.create(
        business=business, site=site, channel="email", to_address=business.email
    )
    checkout = make_checkout(site)
    Checkout.objects.filter(pk=checkout.pk).update(message=message)
    post_signed(client, sample("payment_intent_succeeded"))
    message.refresh_from_db()
    assert message.converted_at is not None


def test_bank_transfer_pending_then_succeeded_updates_one_row(client, site, business):
    make_checkout(site, provider_id="ch_5wlclm4jqpg3fe09")
    pending = {
        **sample("bank_transfer_intent_succeeded"),
        "event_type": "bank_transfer_intent.pending",
    }
    post_signed(client, pending)
    payment = Payment.objects.get(provider_payment_id="ba_123")
    assert payment.status == PaymentStatus.PENDING
    assert _reload(business).contact_status == "pending"
    assert LeadEvent.objects.filter(summary__startswith="Bank transfer pending").exists()
    post_signed(client, sample("bank_transfer_intent_succeeded"))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert Payment.objects.count() == 1
    assert _reload(business).contact_status == "purchased"


ALL_SAMPLES = {
    # sample: (checkout id to prepare, subscription id the sample refers to)
    "payment_intent_succeeded": ("ch_id123", None),
    "payment_intent_failed": ("ch_id123", None),
    "payment_intent_succeeded_live_capture": ("ch_r6wjdigrt0jzyzcw", None),
    "bank_transfer_intent_succeeded": ("ch_5wlclm4jqpg3fe09", None),
    "setup_intent_succeeded": (None, "su_vh8v33ac"),
    "subscription_create": (None, "su_123"),
    "subscription_past_due": (None, "su_123"),
    "subscription_paused": (None, "su_123"),
    "subscription_cancel": (None, "su_123"),
}


def _state():
    return (
        Payment.objects.count(),
        list(Payment.objects.values_list("status", flat=True)),
        list(Subscription.objects.values_list("status", flat=True)),
        LeadEvent.objects.count(),
    )


@pytest.mark.parametrize("name", sorted(ALL_SAMPLES))
def test_each_sample_delivered_twice_with_one_svix_id_is_applied_once(client, site, name):
    checkout_id, subscription_id = ALL_SAMPLES[name]
    if subscription_id:
        _paid_subscription(client, site, sub_id=subscription_id)
    else:
        make_checkout(site, provider_id=checkout_id)
    assert post_signed(client, sample(name), msg_id=f"msg_{name}").status_code == 200
    event = ProviderEvent.objects.get(event_id=f"msg_{name}")
    assert event.status == ProviderEventStatus.PROCESSED, event.error
    after_first = _state()
    assert post_signed(client, sample(name), msg_id=f"msg_{name}").status_code == 200
    assert _state() == after_first
    event.refresh_from_db()
    assert event.attempts == 1
    assert ProviderEvent.objects.filter(event_id=f"msg_{name}").count() == 1


def test_setup_intent_before_its_payment_is_applied_when_the_payment_links_it(client, site):
    post_signed(client, sample("setup_intent_succeeded"), msg_id="msg_setup_early")
    event = ProviderEvent.objects.get(event_id="msg_setup_early")
    assert event.status == ProviderEventStatus.UNMATCHED
    _paid_subscription(client, site, sub_id="su_vh8v33ac")
    event.refresh_from_db()
    assert event.status == ProviderEventStatus.PROCESSED
    assert LeadEvent.objects.filter(summary__startswith="Card saved").count() == 1
