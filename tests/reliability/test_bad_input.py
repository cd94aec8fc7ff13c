"""5. Bad input everywhere gets a clear 4xx (or an error report) — never a 500 and never a
partial write: malformed, empty, huge and wrongly typed bodies on every webhook (with valid
credentials, so the body itself is what is refused); broken, mis-encoded and formula-laden
files on import; fuzzed filter query strings on the lead table, its count, its CSV export
and the JSON API (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Checkout, Customer, Payment, Subscription
from campaigns.models import Message, Suppression
from crm.filters import FILTER_NAMES
from crm.models import Business, ImportBatch, ImportRecord, LeadEvent, ProviderEvent
from tests.billing.conftest import WEBHOOK_URL, svix_headers
from tests.campaigns.events_helpers import BASIC, post_twilio

pytestmark = pytest.mark.django_db

MODELS = (
    Business,
    LeadEvent,
    ProviderEvent,
    Message,
    Suppression,
    Checkout,
    Customer,
    Subscription,
    Payment,
    ImportBatch,
    ImportRecord,
)


def _counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in MODELS)


HUGE = b'{"a": "' + b"x" * 3_000_000 + b'"}'  # over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
BODIES = [
    ("empty", b"", "application/json"),
    ("truncated json", b'{"Type": "Notification", "Message": ', "application/json"),
    ("json array", b"[1, 2, 3]", "application/json"),
    ("json null", b"null", "application/json"),
    ("json string", b'"hello"', "application/json"),
    ("binary", bytes(range(256)) * 4, "application/octet-stream"),
    ("latin-1 text", "caf\xe9 \xff".encode("latin-1"), "text/plain; charset=utf-8"),
    ("form body", b"a=1&b=%ZZ&c", "application/x-www-form-urlencoded"),
    ("xml", b"<?xml version='1.0'?><x>&bogus;</x>", "text/xml"),
    ("multipart without boundary", b"--x\r\n\r\n", "multipart/form-data"),
    ("huge", HUGE, "application/json"),
]


def _ses(client: Client, kind: str, body: bytes, content_type: str):
    return client.post(
        f"/anymail/amazon_ses/{kind}/",
        data=body,
        content_type=content_type,
        HTTP_AUTHORIZATION=BASIC,
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID="bad-input-1",
    )


def _twilio(client: Client, path: str, body: bytes, content_type: str):
    """Signed as Twilio would sign a request with these (form) parameters, if any."""
    from django.conf import settings as dj
    from twilio.request_validator import RequestValidator

    params = {}
    if content_type.startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qsl

        params = dict(parse_qsl(body.decode("latin-1")))
    signature = RequestValidator(dj.TWILIO_AUTH_TOKEN).compute_signature(
        dj.PUBLIC_BASE_URL + path, params
    )
    return client.post(
        path, data=body, content_type=content_type, HTTP_X_TWILIO_SIGNATURE=signature
    )


def _recurrente(client: Client, body: bytes, content_type: str):
    """Correctly Svix-signed: the signature is over these exact bytes."""
    try:
        headers = svix_headers(body)
    except UnicodeDecodeError:  # svix signs text; sign the latin-1 reading of the bytes
        from tests.billing.conftest import WEBHOOK_SECRET

        headers = svix_headers(body.decode("latin-1").encode(), secret=WEBHOOK_SECRET)
    return client.post(WEBHOOK_URL, data=body, content_type=content_type, headers=headers)


ENDPOINTS = {
    "ses tracking": lambda c, b, t: _ses(c, "tracking", b, t),
    "ses inbound": lambda c, b, t: _ses(c, "inbound", b, t),
    "twilio status": lambda c, b, t: _twilio(c, "/webhooks/twilio/status/", b, t),
    "twilio inbound": lambda c, b, t: _twilio(c, "/webhooks/twilio/inbound/", b, t),
    "recurrente": _recurrente,
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("label,body,content_type", BODIES, ids=[b[0] for b in BODIES])
def test_malformed_webhook_bodies_get_a_4xx_and_store_nothing(
    endpoint, label, body, content_type, business
):
    """Each malformed body, authenticated as the provider, is refused with a 4xx and writes
    nothing (no inbox row, no lead, message or payment change)."""
    before = _counts()
    response = ENDPOINTS[endpoint](Client(raise_request_exception=False), body, content_type)
    assert 400 <= response.status_code < 500, (endpoint, label, response.status_code)
    assert _counts() == before


@pytest.mark.parametrize(
    "path", [WEBHOOK_URL, "/webhooks/twilio/status/", "/webhooks/twilio/inbound/"]
)
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_webhooks_refuse_other_methods(client, path, method):
    """Webhooks accept POST only: GET/PUT/DELETE are a 405."""
    assert getattr(client, method)(path).status_code == 405


def test_twilio_form_with_every_field_empty_or_repeated_is_refused(client):
    """A signed Twilio callback whose required fields are empty is a 400 and writes nothing."""
    before = _counts()
    response = post_twilio(
        client, "/webhooks/twilio/status/", {"MessageSid": "", "MessageStatus": ""}
    )
    assert response.status_code == 400
    assert _counts() == before


def test_nul_characters_in_authenticated_events_are_stored_not_a_500(client, business):
    """PostgreSQL cannot store U+0000: a signed Twilio SMS and a signed Recurrente event that
    carry one are answered 200 and kept in the inbox (U+FFFD in its place), not lost."""
    params = {"MessageSid": "SMnul1", "From": "+15125550100", "To": "+1512", "Body": "hi\x00there"}
    assert post_twilio(client, "/webhooks/twilio/inbound/", params).status_code == 200
    body = b'{"id": "pi_\\u0000", "event_type": "payment_intent.succeeded"}'
    response = client.post(
        WEBHOOK_URL, data=body, content_type="application/json", headers=svix_headers(body)
    )
    assert response.status_code == 200
    stored = {e.provider: e for e in ProviderEvent.objects.all()}
    assert stored["twilio"].payload["Body"] == "hi\ufffdthere"
    assert stored["recurrente"].payload["id"] == "pi_\ufffd"


# --- imports -------------------------------------------------------------------------------


def _import(path: Path) -> tuple[bool, str]:
    """(succeeded, error text). Any exception other than CommandError fails the test."""
    try:
        call_command("import_businesses", str(path), stdout=open("/dev/null", "w"))  # noqa: SIM115
    except CommandError as exc:
        return False, str(exc)
    return True, ""


BAD_FILES = {
    "binary.csv": bytes(range(256)) * 8,
    "empty.csv": b"",
    "header only.csv": b"name,city,phone\n",
    "nul bytes.csv": b"name,city,phone\nJoe\x00s Plumbing,Austin,5125550100\n",
    "unclosed quote.csv": b"name,city\n\"Joe's,Austin\nAnn,Dallas\n",
    "mixed encodings.csv": "name,city\nCaf\u00e9 One,Austin\n".encode() + b"Caf\xe9 Two,Austin\n",
    "bom + latin-1.csv": b"\xef\xbb\xbfname,city\nCaf\xe9,Austin\n",
    "huge cell.csv": b"name,city\n" + b"A" * 300_000 + b",Austin\n",
    "ragged rows.csv": b"name,city\nA,Austin,extra,cells\nB\n",
    "truncated.json": b'[{"name": "Joe", "city": ',
    "json scalar.json": b"42",
    "json nul.json": b'[{"name": "Joe\\u0000", "city": "Austin", "place_id": "x"}]',
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_broken_import_files_are_an_error_report_or_a_clean_import(tmp_path, name):
    """A broken file is either refused with a CommandError and nothing written, or imported
    whole (then every lead is readable back); never a traceback, never half a file."""
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    before = _counts()
    ok, error = _import(path)
    if not ok:
        assert error
        assert _counts() == before, f"{name}: partial write after {error!r}"
    else:
        for b in Business.objects.all():
            assert "\x00" not in b.name


FORMULAS = ["=1+1", "+SUM(A1:A2)", "-2+3", "@cmd", '=HYPERLINK("http://x","y")', "\t=1"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.sampled_from(FORMULAS), st.text(max_size=30)),
            st.one_of(st.sampled_from(FORMULAS), st.text(max_size=15)),
            st.text(alphabet="0123456789+()- ", max_size=14),
        ),
        min_size=1,
        max_size=6,
    ),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]),
)
def test_fuzzed_csv_imports_whole_or_not_at_all(tmp_path_factory, rows, encoding):
    """Random cells (formulas, control characters, any unicode) in any of three encodings:
    the import either succeeds for every row it reports, keeping formulas as plain text, or
    is refused with a reason and writes nothing."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["name", "city", "phone"])
    writer.writerows(rows)
    try:
        data = buf.getvalue().encode(encoding)
    except UnicodeEncodeError:
        data = buf.getvalue().encode("utf-8")
    path = tmp_path_factory.mktemp("fuzz") / "leads.csv"
    path.write_bytes(data)
    before = _counts()
    ok, error = _import(path)
    if not ok:
        assert _counts() == before, f"partial write after {error!r}"
    else:
        assert Business.objects.count() >= before[0]


# --- filters on the lead table and the API ------------------------------------------------

filter_params = st.dictionaries(
    st.one_of(
        st.sampled_from(FILTER_NAMES + ("sort", "p", "after", "before", "page", "limit")),
        st.text(max_size=8),
    ),
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            [
                "-1",
                "0",
                "1e309",
                "NaN",
                "2026-13-45",
                "99999999999999999999",
                "'; DROP TABLE x;--",
                "%00",
                "\x00",
                "me",
                "true",
                "[]",
            ]
        ),
    ),
    max_size=5,
)

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


LEAD_PAGES = (
    "/admin/crm/leads/",
    "/admin/crm/leads/count/",
    "/admin/crm/leads/export.csv",
    "/admin/crm/campaigns/preview/",  # the campaign audience: the same FilterSet
    "/admin/crm/pipeline/",
)


@FUZZ
@given(params=filter_params)
def test_fuzzed_filters_on_the_lead_pages_never_500(sales_user, business, params):
    """Any filter/sort/page query string on the lead table, its count fragment, its CSV
    export, the campaign audience preview and the pipeline answers 200 or a 4xx, and
    reading never writes."""
    client = Client(raise_request_exception=False)
    client.force_login(sales_user)
    before = _counts()
    for url in LEAD_PAGES:
        response = client.get(url, params)
        assert response.status_code < 500, (url, params, response.status_code)
        response = client.get(url, params, HTTP_HX_REQUEST="true")
        assert response.status_code < 500, (url, params, response.status_code)
    assert _counts() == before


@FUZZ
@given(params=filter_params)
def test_fuzzed_filters_on_the_api_never_500(staff_user, business, params):
    """The same fuzzed parameters on GET /api/v1/crm/leads and the legacy /api/v1/businesses:
    200 or a 4xx JSON error, never a 500."""
    client = Client(raise_request_exception=False)
    client.force_login(staff_user)
    for url in ("/api/v1/crm/leads", "/api/v1/businesses"):
        response = client.get(url, params)
        assert response.status_code < 500, (url, params, response.status_code)
        if response.status_code >= 400:
            assert response["Content-Type"].startswith("application/json")
