"""Email provider events through django-anymail: stored in the inbox first, applied second.

anymail's webhook views (`/anymail/<esp>/tracking/`, `/anymail/<esp>/inbound/`) check the
basic auth (ANYMAIL["WEBHOOK_SECRET"]) and send its `tracking` / `inbound` signals; the
receivers here turn each event into a JSON payload, store it with `crm.inbox.record`
(committed on its own, so the provider's 2xx means "stored") and apply it through the
handler registered for provider "anymail". An exception while applying stays on the inbox
row (replay_webhooks); an exception while storing becomes a 500, so the provider retries.

Dedupe key of a tracking event: anymail's event_id + the recipient (one SNS notification
about a bounce to two addresses is two events sharing one event_id). Counters (opened,
clicked) move only the first time an event is applied, even under `replay --all`.

Twilio's SMS events are applied here too, by the handler registered for provider "twilio";
its webhook views (campaigns/webhooks.py) only verify and store them. Views import
handlers, never the reverse.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from campaigns import lifecycle as msg
from campaigns.models import Message, SuppressionKind
from campaigns.suppression import suppression_add
from crm import inbox
from crm.lifecycle import (
    business_advance,
    business_mark_bounced,
    business_opt_out,
    lead_event_add,
)
from crm.models import ContactStatus, EventSource, LeadEvent, LeadEventKind, Provider
from crm.models import ProviderEvent as ProviderEventModel
from crm.normalize import email_normalized

logger = logging.getLogger(__name__)

PROVIDER = Provider.ANYMAIL
KIND = LeadEventKind


# --- payloads --------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """What the ESP sent, as JSON (QueryDicts become dicts of lists; the rest via str)."""
    if hasattr(value, "lists"):
        value = {key: values if len(values) > 1 else values[0] for key, values in value.lists()}
    return json.loads(json.dumps(value, default=str))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def tracking_payload(event, esp_name: str) -> dict[str, Any]:
    return {
        "kind": "tracking",
        "esp": esp_name,
        "event_type": event.event_type,
        "event_id": event.event_id,
        "timestamp": _iso(event.timestamp),
        "message_id": event.message_id,
        "recipient": event.recipient,
        "description": event.description,
        "reject_reason": event.reject_reason,
        "mta_response": event.mta_response,
        "click_url": event.click_url,
        "user_agent": event.user_agent,
        "tags": list(event.tags or []),
        "metadata": jsonable(event.metadata or {}),
        "esp_event": jsonable(event.esp_event),
    }


def tracking_key(payload: dict[str, Any]) -> str:
    """anymail event_id + recipient; a content hash when the ESP gives no event id."""
    recipient = email_normalized(payload.get("recipient") or "")
    if payload.get("event_id"):
        return f"{payload['event_id']}:{recipient}"
    digest = hashlib.sha256(
        json.dumps(
            [payload.get(k) for k in ("esp", "event_type", "message_id", "timestamp")]
            + [recipient, payload.get("esp_event")],
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()
    return f"sha256:{digest}"


# --- ESP adapters: what anymail leaves ESP-specific -------------------------------------------


def _ses_event(payload: dict[str, Any]) -> dict[str, Any]:
    esp_event = payload.get("esp_event")
    return esp_event if isinstance(esp_event, dict) else {}


def occurred_at(payload: dict[str, Any]) -> datetime | None:
    """When the event happened. SES puts it in the event object (anymail reports the SNS
    notification's time); other ESPs: anymail's timestamp."""
    if payload.get("esp") == "Amazon SES":
        ses = _ses_event(payload)
        kind = str(ses.get("eventType") or ses.get("notificationType") or "").lower()
        inner = ses.get(kind) if isinstance(ses.get(kind), dict) else {}
        if inner.get("timestamp") and (at := parse_datetime(str(inner["timestamp"]))):
            return at
    raw = payload.get("timestamp")
    return parse_datetime(raw) if raw else None


def bounce_is_permanent(payload: dict[str, Any]) -> bool:
    """Only a permanent (hard) bounce suppresses the address.

    anymail reports SES's Permanent, Transient and Undetermined bounces all as `bounced` and
    puts "<bounceType>: <bounceSubType>" in `description`. Other ESPs report soft bounces as
    `deferred`, so their `bounced` is a hard bounce."""
    if payload.get("esp") == "Amazon SES":
        bounce = _ses_event(payload).get("bounce") or {}
        bounce_type = bounce.get("bounceType") or (payload.get("description") or "").split(":")[0]
        return bounce_type.strip().lower() == "permanent"
    description = (payload.get("description") or "").lower()
    return not description.startswith(("transient", "soft", "temporary"))


# --- receivers (connected in CampaignsConfig.ready through connect()) -------------------------


def store_and_apply_on_tracking(sender, event, esp_name, **kwargs) -> None:
    payload = tracking_payload(event, esp_name)
    inbox.record_and_process(
        PROVIDER,
        tracking_key(payload),
        f"tracking:{payload['event_type']}",
        payload,
        occurred_at=occurred_at(payload) or timezone.now(),
    )


def store_and_apply_on_inbound(sender, event, esp_name, **kwargs) -> None:
    from campaigns import replies

    payload = replies.inbound_email_payload(event, esp_name)
    inbox.record_and_process(
        PROVIDER,
        replies.inbound_email_key(payload),
        "inbound",
        payload,
        occurred_at=replies.inbound_email_at(payload),
    )


def connect() -> None:
    from anymail.signals import inbound, tracking

    tracking.connect(store_and_apply_on_tracking, dispatch_uid="campaigns.events.tracking")
    inbound.connect(store_and_apply_on_inbound, dispatch_uid="campaigns.events.inbound")
    inbox.register(PROVIDER, apply_anymail_event)
    inbox.register(Provider.TWILIO, apply_twilio_event)


# --- the handler ----------------------------------------------------------------------------


def apply_anymail_event(event: ProviderEventModel) -> None:
    kind = (event.payload or {}).get("kind")
    if kind == "tracking":
        apply_tracking(event)
    elif kind == "inbound":
        from campaigns import replies

        replies.email_reply_apply(event)
    else:
        raise inbox.Ignored(f"unknown anymail payload kind {kind!r}")


def message_for_event(**lookup: Any) -> Message | None:
    """The message an event is about, with its lead's statuses (one query)."""
    return (
        Message.objects.filter(**lookup)
        .select_related("business")
        .only(
            "pk",
            "business_id",
            "channel",
            "to_address",
            "business__contact_status",
            "business__furthest_contact_status",
        )
        .first()
    )


def advance(row: Message, to: str, at: datetime, **links: Any) -> None:
    """business_advance for the lead of `row`, starting from the statuses read with the
    message: no re-read, and no statement at all when the lead is already at or past `to`."""
    lead = row.business
    business_advance(
        business=row.business_id,
        to=to,
        source=EventSource.PROVIDER,
        at=at,
        expected=(lead.contact_status, lead.furthest_contact_status),
        **links,
    )


def applied_before(event: ProviderEventModel) -> bool:
    """Whether this stored event already took effect (only possible on a forced replay: a
    failed or unmatched attempt rolled back everything it did)."""
    return event.attempts > 1 and LeadEvent.objects.filter(provider_event=event).exists()


def _timeline(event, message, kind: str, summary: str, at: datetime, **data: Any) -> None:
    if getattr(event, "_applied_before", False):
        return
    lead_event_add(
        business=message.business_id,
        kind=kind,
        source=EventSource.PROVIDER,
        summary=summary,
        at=at,
        data={"provider": event.provider, "event_type": event.event_type, **data},
        message=message,
        provider_event=event,
    )


# anymail event type → the campaigns.lifecycle.TRACK_MARKS mark it makes on its message.
TRACKED = {
    "queued": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "opened": "opened",
    "clicked": "clicked",
}


# Our own links whose clicks SES's click tracking must not count, and why.
OWN_LINKS = {
    # its view counts the click itself, leaving out bots and staff
    "campaigns:track-click": "a click on our own tracked link: its /c/ view counted it",
    # asking to stop is no engagement (and mail scanners open every link)
    "campaigns:unsubscribe": "a click on the unsubscribe link is not engagement",
}


def _own_link(url: str) -> str | None:
    """Why SES's report of a click on `url` is ignored, when `url` is one of OWN_LINKS on
    PUBLIC_BASE_URL (SES wraps every link of a mail when its click tracking is on)."""
    parts = urlsplit(url)
    if parts.netloc.lower() != urlsplit(settings.PUBLIC_BASE_URL).netloc.lower():
        return None
    try:
        return OWN_LINKS.get(resolve(parts.path).view_name)
    except Resolver404:
        return None


def apply_tracking(event: ProviderEventModel) -> None:
    p = event.payload
    etype = p.get("event_type")
    message_id = p.get("message_id")
    if etype in ("unknown", "subscribed", "inbound", "inbound_failed"):
        raise inbox.Ignored(f"nothing to apply for {etype!r}")
    if not message_id:
        raise inbox.Ignored(f"{etype} event without a message id")
    if etype == "clicked" and (own := _own_link(p.get("click_url") or "")):
        raise inbox.Ignored(own)
    at = event.occurred_at or event.received_at
    # First attempt at a tracking mark: finding the message and marking it is one statement.
    marked = TRACKED.get(etype) if event.attempts <= 1 else None
    if marked:
        message = msg.message_track(kind=marked, provider_message_id=message_id, at=at)
    else:
        message = message_for_event(provider_message_id=message_id)
    if message is None:
        raise inbox.Unmatched(f"no message with provider id {message_id!r} (yet)")
    esp = p.get("esp") or "email provider"
    recipient = p.get("recipient") or message.to_address
    ours = email_normalized(recipient) == email_normalized(message.to_address)
    links = {"message": message, "provider_event": event}
    src = EventSource.PROVIDER
    # A forced replay re-runs the idempotent steps but neither counts nor logs twice.
    event._applied_before = again = applied_before(event)

    if etype in ("queued", "sent"):
        if not marked:
            msg.message_mark_provider_sent(message=message, at=at)
        _timeline(event, message, KIND.MESSAGE_SENT, f"Email accepted by {esp}", at)
    elif etype == "deferred":
        _timeline(
            event,
            message,
            KIND.PROVIDER_EVENT,
            f"Email delivery to {recipient} delayed",
            at,
            mta_response=p.get("mta_response"),
        )
    elif etype == "delivered":
        if not marked:
            msg.message_mark_delivered(message=message, at=at)
        _timeline(event, message, KIND.MESSAGE_DELIVERED, f"Email delivered to {recipient}", at)
        advance(message, ContactStatus.EMAILED, at)
    elif etype == "opened":
        if not (again or marked):
            msg.message_mark_opened(message=message, at=at)
        _timeline(event, message, KIND.OPENED, "Email opened", at, user_agent=p.get("user_agent"))
        advance(message, ContactStatus.OPENED, at, **links)
    elif etype == "clicked":
        if not (again or marked):
            msg.message_mark_clicked(message=message, at=at)
        url = p.get("click_url") or ""
        _timeline(event, message, KIND.CLICKED, f"Link clicked: {url}"[:500], at, url=url)
        advance(message, ContactStatus.CLICKED, at, **links)
    elif etype == "bounced":
        reason = " — ".join(x for x in (p.get("description"), p.get("mta_response")) if x)
        if bounce_is_permanent(p):
            suppression_add(
                kind=SuppressionKind.EMAIL, value=recipient, reason="bounce", source=esp
            )
            _timeline(
                event, message, KIND.BOUNCED, f"Hard bounce of {recipient}: {reason}"[:500], at
            )
            if ours:  # another recipient of the same mail is only suppressed
                msg.message_mark_bounced(message=message, at=at, reason=reason or "bounced")
                business_mark_bounced(
                    business=message.business_id, source=src, reason=reason, **links
                )
        else:
            msg.message_mark_failed(message=message, at=at, reason=f"soft bounce: {reason}")
            _timeline(
                event, message, KIND.MESSAGE_FAILED, f"Soft bounce (not suppressed): {reason}", at
            )
    elif etype in ("complained", "unsubscribed"):
        why = "complaint" if etype == "complained" else "unsubscribed at the provider"
        suppression_add(kind=SuppressionKind.EMAIL, value=recipient, reason=etype, source=esp)
        _timeline(event, message, KIND.PROVIDER_EVENT, f"Email {etype} by {recipient}", at)
        if ours:
            business_opt_out(
                business=message.business_id,
                channel="email",
                source=src,
                reason=why,
                at=at,
                **links,
            )
    elif etype in ("rejected", "failed"):
        reason = p.get("description") or p.get("reject_reason") or p.get("mta_response") or etype
        msg.message_mark_failed(message=message, at=at, reason=f"{etype}: {reason}")
        _timeline(event, message, KIND.MESSAGE_FAILED, f"Email {etype}: {reason}"[:500], at)
    elif etype == "autoresponded":
        _timeline(event, message, KIND.AUTO_REPLY, "Auto-reply received", at)
    else:
        raise inbox.Ignored(f"nothing to apply for {etype!r}")


# Twilio error codes (https://www.twilio.com/docs/api/errors).
OPTED_OUT = "21610"  # the recipient replied STOP: Twilio refuses to text them
UNREACHABLE = {"30005", "30006"}  # unknown / non-existent number; landline or unreachable
SENT_STATES = {"sent"}
FAILED_STATES = {"failed", "undelivered"}
IGNORED_STATES = {"queued", "accepted", "scheduled", "sending", "read", "canceled", "receiving"}


# --- Twilio's handler (its webhook views are in campaigns/webhooks.py) -----------------------


def apply_twilio_event(event: ProviderEventModel) -> None:
    kind = (event.payload or {}).get("kind")
    if kind == "status":
        apply_status(event)
    elif kind == "inbound":
        from campaigns import replies

        replies.sms_inbound_apply(event)
    else:
        raise inbox.Ignored(f"unknown Twilio payload kind {kind!r}")


def apply_status(event: ProviderEventModel) -> None:
    p = event.payload
    sid = p.get("MessageSid") or p.get("SmsSid")
    status = (p.get("MessageStatus") or p.get("SmsStatus") or "").lower()
    if status in IGNORED_STATES:
        raise inbox.Ignored(f"status {status!r} changes nothing")
    if status not in SENT_STATES | FAILED_STATES | {"delivered"}:
        raise inbox.Ignored(f"unknown Twilio status {status!r}")
    at = event.occurred_at or event.received_at
    # First attempt at sent / delivered: finding the message and marking it is one statement.
    marked = status if status in ("sent", "delivered") and event.attempts <= 1 else None
    if marked:
        message = msg.message_track(kind=marked, provider_message_id=sid, at=at)
    else:
        message = message_for_event(provider_message_id=sid)
    if message is None:
        raise inbox.Unmatched(f"no message with sid {sid!r} (yet)")
    src = EventSource.PROVIDER
    links = {"message": message, "provider_event": event}

    def timeline(kind: str, summary: str, **data: Any) -> None:
        lead_event_add(
            business=message.business_id,
            kind=kind,
            source=src,
            summary=summary,
            at=at,
            data={"provider": "twilio", "status": status, **data},
            **links,
        )

    if status == "sent":
        if not marked:
            msg.message_mark_provider_sent(message=message, at=at)
        timeline(LeadEventKind.MESSAGE_SENT, "SMS sent by Twilio")
        advance(message, ContactStatus.TEXTED, at)
    elif status == "delivered":
        if not marked:
            msg.message_mark_delivered(message=message, at=at)
        timeline(LeadEventKind.MESSAGE_DELIVERED, f"SMS delivered to {message.to_address}")
        advance(message, ContactStatus.TEXTED, at)
    else:
        code = str(p.get("ErrorCode") or "")
        reason = f"{status}" + (f" (ErrorCode {code})" if code else "")
        msg.message_mark_failed(message=message, at=at, reason=reason)
        timeline(LeadEventKind.MESSAGE_FAILED, f"SMS {reason}", error_code=code)
        phone = p.get("To") or message.to_address
        if code == OPTED_OUT:
            suppression_add(
                kind=SuppressionKind.PHONE, value=phone, reason="sms_stop", source="twilio"
            )
            business_opt_out(
                business=message.business_id,
                channel="sms",
                source=src,
                reason="Twilio 21610: recipient opted out",
                at=at,
                **links,
            )
        elif code in UNREACHABLE and suppression_add(
            kind=SuppressionKind.PHONE, value=phone, reason="unreachable", source="twilio"
        ):
            timeline(
                LeadEventKind.PROVIDER_EVENT,
                f"Phone {phone} marked unreachable (Twilio {code})",
                error_code=code,
            )
