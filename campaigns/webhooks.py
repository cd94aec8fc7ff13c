"""Webhook views: Twilio's SMS status callbacks and inbound SMS, and anymail's SES views
behind a body check (mounted in webmagic/urls.py). Events are applied by the handlers in
campaigns/events.py.

Both Twilio views check `X-Twilio-Signature` with twilio's own RequestValidator against the URL
Twilio called, rebuilt from PUBLIC_BASE_URL (behind a TLS-terminating proxy the request
Django sees is http://internal-host/…, which is not what Twilio signed). A missing or bad
signature, or no TWILIO_AUTH_TOKEN configured, is a 403 and changes nothing.

A valid request is stored in the inbox (committed) and then applied; the answer is an empty
TwiML document, so Twilio sends nothing back on our behalf (its Advanced Opt-Out answers
STOP/START/HELP itself). Dedupe keys: status `MessageSid:MessageStatus`, inbound `MessageSid`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from anymail.webhooks.amazon_ses import (
    AmazonSESInboundWebhookView,
    AmazonSESTrackingWebhookView,
)
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from crm import inbox
from crm.models import Provider
from crm.normalize import is_digits

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


# --- Amazon SES (SNS) body check -------------------------------------------------------------


def sns_body_problem(body: bytes) -> str | None:
    """Why a POST body cannot be an SNS message, or None. anymail's SES views raise (a 500,
    which SNS would retry forever) on a body that is not a JSON object with a `Type`."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "the body is not JSON"
    if not isinstance(data, dict) or not isinstance(data.get("Type"), str):
        return "the body is not an SNS message (no Type)"
    if data["Type"] == "Notification":
        try:
            inner = json.loads(data.get("Message") or "")
        except (TypeError, ValueError):
            return "the SNS Message is not JSON"
        if not isinstance(inner, dict):
            return "the SNS Message is not a JSON object"
    return None


def sns_checked(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """anymail's SES webhook view, answering 400 to a malformed body instead of raising."""

    @csrf_exempt
    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST" and (problem := sns_body_problem(request.body)):
            return HttpResponseBadRequest(f"malformed SNS message: {problem}")
        return view(request, *args, **kwargs)

    return checked


ses_tracking = sns_checked(AmazonSESTrackingWebhookView.as_view())
ses_inbound = sns_checked(AmazonSESInboundWebhookView.as_view())


# --- Twilio -------------------------------------------------------------------------------


def public_url(request: HttpRequest) -> str:
    """The URL Twilio requested, as the public sees it."""
    return settings.PUBLIC_BASE_URL + request.get_full_path()


def signature_valid(request: HttpRequest) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not token:
        logger.error("Twilio webhook refused: TWILIO_AUTH_TOKEN is not set")
        return False
    if not signature:
        return False
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    return RequestValidator(token).validate(
        public_url(request), request.POST, signature, algorithm=algorithm
    )


def twiml(status: int = 200) -> HttpResponse:
    return HttpResponse(EMPTY_TWIML, content_type="text/xml", status=status)


def _params(request: HttpRequest) -> dict[str, Any]:
    return {key: values[-1] if len(values) == 1 else values for key, values in request.POST.lists()}


def dlr_time(raw: str | None) -> datetime | None:
    """Twilio's RawDlrDoneDate (YYMMDDhhmm, UTC): when the carrier reported the outcome."""
    if not raw or len(raw) != 10 or not is_digits(raw):
        return None
    try:
        return datetime.strptime(raw, "%y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if not signature_valid(request):
        return HttpResponseForbidden("invalid Twilio signature")
    params = _params(request)
    sid = params.get("MessageSid") or params.get("SmsSid")
    status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    if not sid or not status:
        return HttpResponseBadRequest("MessageSid and MessageStatus are required")
    inbox.record_and_process(
        Provider.TWILIO,
        f"{sid}:{status}",
        f"status:{status}",
        {"kind": "status", **params},
        occurred_at=dlr_time(params.get("RawDlrDoneDate")),
    )
    return twiml()


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if not signature_valid(request):
        return HttpResponseForbidden("invalid Twilio signature")
    params = _params(request)
    sid = params.get("MessageSid") or params.get("SmsSid")
    if not sid or not params.get("From"):
        return HttpResponseBadRequest("MessageSid and From are required")
    inbox.record_and_process(Provider.TWILIO, sid, "inbound", {"kind": "inbound", **params})
    return twiml()
