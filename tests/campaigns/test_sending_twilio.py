"""TwilioBackend against a local HTTP server that checks the real request Twilio would get."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import pytest

from campaigns import sms

SID = "AC" + "1" * 32
TOKEN = "secret-token"


class FakeTwilio(BaseHTTPRequestHandler):
    requests: list = []
    reply_status = 201

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        FakeTwilio.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "form": form}
        )
        if FakeTwilio.reply_status == 201:
            body = {"sid": "SM" + "a" * 32, "status": "queued", "to": form["To"][0]}
        else:
            body = {"code": 21610, "message": "Attempt to send to unsubscribed recipient",
                    "status": 400}  # fmt: skip
        data = json.dumps(body).encode()
        self.send_response(FakeTwilio.reply_status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def twilio_server(settings):
    FakeTwilio.requests = []
    FakeTwilio.reply_status = 201
    server = HTTPServer(("127.0.0.1", 0), FakeTwilio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SMS_BACKEND = "campaigns.sms.TwilioBackend"
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_FROM_NUMBER = "+15125559999"
    settings.TWILIO_API_BASE = f"http://127.0.0.1:{server.server_port}"
    try:
        yield FakeTwilio
    finally:
        server.shutdown()
        server.server_close()


def test_twilio_backend_posts_the_message_with_basic_auth(twilio_server):
    sid = sms.send_sms(
        to="+15125550100",
        body="Hello",
        status_callback="https://crm.example.com/webhooks/twilio/status/",
    )
    assert sid == "SM" + "a" * 32
    [request] = twilio_server.requests
    assert request["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request["auth"] == expected
    assert request["form"] == {
        "To": ["+15125550100"],
        "From": ["+15125559999"],
        "Body": ["Hello"],
        "StatusCallback": ["https://crm.example.com/webhooks/twilio/status/"],
    }


def test_twilio_error_becomes_sms_send_error(twilio_server):
    twilio_server.reply_status = 400
    with pytest.raises(sms.SmsSendError) as exc:
        sms.send_sms(to="+15125550100", body="Hello")
    assert "21610" in str(exc.value)


@pytest.mark.django_db
def test_campaign_text_through_twilio_stores_the_sid(twilio_server, business):
    from datetime import datetime
    from unittest import mock

    from django.utils import timezone

    from campaigns.services import message_send_oneoff
    from crm.lifecycle import business_opt_in_sms

    business_opt_in_sms(business=business, source="manual")
    noon = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.get_fixed_timezone(0))
    with mock.patch("campaigns.sending.timezone.now", return_value=noon):
        message = message_send_oneoff(
            business=business, channel="sms", body="Hi {{ business_name }}"
        )
    assert message.status == "sent" and message.provider_message_id == "SM" + "a" * 32
    form = twilio_server.requests[0]["form"]
    assert form["Body"] == ["WebMagic: Hi Joe's Plumbing Reply STOP to opt out."]
    assert form["StatusCallback"] == ["https://crm.example.com/webhooks/twilio/status/"]
