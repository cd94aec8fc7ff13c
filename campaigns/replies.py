"""Replies from leads: inbound email (anymail `inbound`) and inbound SMS (Twilio).

Email: matched to the outbound Message by In-Reply-To / References, else by the sender's
address; auto-replies (Auto-Submitted, X-Autoreply, out-of-office subjects …) go on the
timeline but are not replies. SMS: a whole-body keyword decides — opt-out (STOP …), opt-in
(START, UNSTOP, YES), help (HELP, INFO) — and any other text is a reply. A reply is an
inbound Message (unread until staff read it), replied_at on the message it answers, the
lead `replied`, and its text on the timeline.

Staff answer an SMS reply through `campaigns.services.message_send_oneoff` (the one
sending path: suppression, opt-outs and quiet hours apply).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from campaigns import lifecycle as msg
from campaigns.models import (
    Channel,
    Direction,
    Message,
    MessageStatus,
    Suppression,
    SuppressionKind,
)
from campaigns.sending import SendRefused
from campaigns.suppression import suppression_add
from crm import inbox
from crm.lifecycle import business_advance, business_opt_in_sms, business_opt_out, lead_event_add
from crm.memo import forget
from crm.models import Business, ContactStatus, EventSource, LeadEvent, LeadEventKind, ProviderEvent
from crm.normalize import email_normalized, phone_e164

RAW_LIMIT = 256 * 1024
TEXT_LIMIT = 20_000

# --- SMS keywords (matched against the whole body, never a substring) -------------------------

OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
OPT_IN_WORDS = {"START", "UNSTOP", "YES"}
HELP_WORDS = {"HELP", "INFO"}


def sms_keyword(body: str, opt_out_type: str = "") -> str:
    """'stop' | 'start' | 'help' | '' (a reply). Twilio's OptOutType wins when present."""
    kind = (opt_out_type or "").strip().upper()
    if kind in {"STOP", "START", "HELP"}:
        return kind.lower()
    word = re.sub(r"[\s.!]+$", "", (body or "").strip()).upper()
    if word in OPT_OUT_WORDS:
        return "stop"
    if word in OPT_IN_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return ""


# --- auto-replies -----------------------------------------------------------------------------

AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|away from (the )?office"
    r"|on vacation|on holiday|autoreply|abwesenheitsnotiz|r[ée]ponse automatique"
    r"|respuesta autom[áa]tica|fuera de la oficina|i am (currently )?out|i'm (currently )?out)",
    re.IGNORECASE,
)


def is_auto_reply(headers: dict[str, str], subject: str) -> bool:
    h = {k.lower(): (v or "").strip().lower() for k, v in headers.items()}
    if h.get("auto-submitted", "no") not in ("", "no"):
        return True
    if "x-autoreply" in h or "x-autorespond" in h or "x-autoresponder" in h:
        return True
    if h.get("x-auto-response-suppress", "") in ("all", "oof", "autoreply"):
        return True
    if h.get("precedence") in ("auto_reply", "auto-reply"):
        return True
    return bool(AUTO_SUBJECT.search(subject or ""))


AUTO_HEADERS = (
    "Auto-Submitted",
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponder",
    "X-Auto-Response-Suppress",
    "Precedence",
)


# --- inbound email ----------------------------------------------------------------------------


def inbound_email_payload(event, esp_name: str) -> dict[str, Any]:
    message = event.message
    sender = message.from_email if message is not None else None
    if isinstance(sender, list):
        sender = sender[0] if sender else None
    headers = {
        name: message[name] for name in AUTO_HEADERS if message is not None and message[name]
    }
    raw = message.as_string() if message is not None else ""
    return {
        "kind": "inbound",
        "esp": esp_name,
        "event_id": event.event_id,
        "timestamp": event.timestamp.isoformat() if event.timestamp else None,
        "from": sender.addr_spec if sender else "",
        "from_name": sender.display_name if sender else "",
        "to": [a.addr_spec for a in (message.to if message is not None else [])],
        "subject": (message.subject or "") if message is not None else "",
        "message_id": (message["Message-ID"] or "").strip() if message is not None else "",
        "in_reply_to": (message["In-Reply-To"] or "") if message is not None else "",
        "references": (message["References"] or "") if message is not None else "",
        "date": message.date.isoformat() if message is not None and message.date else None,
        "headers": headers,
        "text": ((message.text or "") if message is not None else "")[:TEXT_LIMIT],
        "raw": raw[:RAW_LIMIT],
        "raw_truncated": len(raw) > RAW_LIMIT,
    }


def inbound_email_key(payload: dict[str, Any]) -> str:
    if payload.get("event_id"):
        return f"inbound:{payload['event_id']}"
    if payload.get("message_id"):
        return f"inbound:{payload['message_id']}"
    return "inbound:sha256:" + hashlib.sha256(payload.get("raw", "").encode()).hexdigest()


def inbound_email_at(payload: dict[str, Any]) -> datetime:
    for key in ("timestamp", "date"):
        if payload.get(key) and (at := parse_datetime(payload[key])):
            return at
    return timezone.now()


def _message_ids(*values: str) -> list[str]:
    """Message-IDs from In-Reply-To / References, with and without <> and the domain part
    (SES's provider id is the local part of the Message-ID it sets)."""
    found: list[str] = []
    for value in values:
        for token in re.findall(r"<([^<>\s]+)>|(\S+)", value or ""):
            mid = (token[0] or token[1]).strip("<>,")
            if mid:
                found += [mid, f"<{mid}>", mid.partition("@")[0]]
    return list(dict.fromkeys(found))


def email_reply_match(payload: dict[str, Any]) -> tuple[Business | None, Message | None]:
    """(business, the outbound message it answers)."""
    ids = _message_ids(payload.get("in_reply_to", ""), payload.get("references", ""))
    if ids:
        answered = (
            Message.objects.filter(direction=Direction.OUTBOUND, provider_message_id__in=ids)
            .select_related("business")
            .order_by("-created_at")
            .first()
        )
        if answered:
            return answered.business, answered
    sender = email_normalized(payload.get("from", ""))
    if not sender:
        return None, None
    answered = (
        Message.objects.filter(
            direction=Direction.OUTBOUND, channel=Channel.EMAIL, to_address__iexact=sender
        )
        .select_related("business")
        .order_by("-created_at", "-pk")
        .first()
    )
    if answered:
        return answered.business, answered
    business = Business.objects.filter(email__iexact=sender).order_by("-created_at").first()
    return business, None


def reply_text(text: str) -> str:
    """The new part of a reply: quoted lines and the quoted original dropped."""
    lines = []
    for line in (text or "").splitlines():
        if re.match(r"^\s*On .+wrote:\s*$", line) or line.strip() in (
            "-----Original Message-----",
            "________________________________",
        ):
            break
        if line.lstrip().startswith(">"):
            continue
        lines.append(line)
    return "\n".join(lines).strip() or (text or "").strip()


def reply_record(
    *,
    business: Business | int,
    channel: str,
    body: str,
    at: datetime,
    provider_message_id: str,
    from_address: str,
    to_address: str = "",
    subject: str = "",
    in_reply_to: Message | None = None,
    event: ProviderEvent | None = None,
) -> Message:
    """Record an inbound reply (once per provider id): the inbound Message, replied_at on the
    message it answers, the lead `replied`, the text on the timeline."""
    business_id = business.pk if isinstance(business, Business) else business
    reply, created = Message.objects.get_or_create(
        provider_message_id=provider_message_id[:255],
        defaults={
            "business_id": business_id,
            "direction": Direction.INBOUND,
            "channel": channel,
            "status": MessageStatus.RECEIVED,
            "from_address": from_address[:254],
            "to_address": to_address[:254],
            "subject": subject[:300],
            "body": body,
            "in_reply_to": in_reply_to,
            "site_id": in_reply_to.site_id if in_reply_to else None,
            "created_at": at,
        },
    )
    if in_reply_to is not None:
        msg.message_mark_replied(message=in_reply_to, at=at)
    if created:
        forget(msg.UNREAD_REPLIES_KEY)
        label = "SMS" if channel == Channel.SMS else "Email"
        lead_event_add(
            business=business_id,
            kind=LeadEventKind.REPLY,
            source=EventSource.PROVIDER,
            summary=f"{label} reply: {body}"[:500],
            at=at,
            data={"channel": channel, "text": body[:5000], "from": from_address},
            message=reply,
            provider_event=event,
        )
    business_advance(
        business=business_id,
        to=ContactStatus.REPLIED,
        source=EventSource.PROVIDER,
        at=at,
        message=reply,
        provider_event=event,
    )
    return reply


def email_reply_apply(event: ProviderEvent) -> None:
    p = event.payload
    business, answered = email_reply_match(p)
    if business is None:
        raise inbox.Unmatched(f"no lead or message for the reply from {p.get('from')!r}")
    inbox.event_link_lead(event, business.pk)
    at = event.occurred_at or event.received_at
    text = reply_text(p.get("text") or "")
    if is_auto_reply(p.get("headers") or {}, p.get("subject") or ""):
        if not LeadEvent.objects.filter(provider_event=event).exists():
            lead_event_add(
                business=business,
                kind=LeadEventKind.AUTO_REPLY,
                source=EventSource.PROVIDER,
                summary=f"Auto-reply: {p.get('subject') or ''}"[:500],
                at=at,
                data={"subject": p.get("subject"), "text": text[:2000], "from": p.get("from")},
                message=answered,
                provider_event=event,
            )
        return
    reply_record(
        business=business,
        channel=Channel.EMAIL,
        body=text,
        at=at,
        provider_message_id=f"email:{p.get('message_id') or event.event_id}",
        from_address=p.get("from") or "",
        to_address=", ".join(p.get("to") or []),
        subject=p.get("subject") or "",
        in_reply_to=answered,
        event=event,
    )


# --- inbound SMS ------------------------------------------------------------------------------


def sms_leads(phone: str) -> list[int]:
    """Every lead with this phone number; the one texted last first."""
    if not phone:
        return []
    texted_last = list(
        Message.objects.filter(direction=Direction.OUTBOUND, channel=Channel.SMS, to_address=phone)
        .order_by("-created_at", "-pk")
        .values_list("business_id", flat=True)[:1]
    )
    others = Business.objects.filter(phone_normalized=phone).order_by("-created_at", "-pk")
    return list(dict.fromkeys(texted_last + list(others.values_list("pk", flat=True)[:50])))


def sms_inbound_apply(event: ProviderEvent) -> None:
    p = event.payload
    phone = phone_e164(p.get("From") or "") or (p.get("From") or "").strip()
    body = (p.get("Body") or "").strip()
    keyword = sms_keyword(body, p.get("OptOutType") or "")
    at = event.occurred_at or event.received_at
    leads = sms_leads(phone)
    src = EventSource.PROVIDER
    if keyword == "stop":
        # The number is suppressed even when no lead has it yet: it outlives the lead.
        suppression_add(kind=SuppressionKind.PHONE, value=phone, reason="sms_stop", source="twilio")
        if leads:
            inbox.event_link_lead(event, leads[0])
        for pk in leads:
            business_opt_out(
                business=pk, channel="sms", source=src, reason=f"SMS {body[:20]!r}", at=at,
                provider_event=event,
            )  # fmt: skip
        return
    if not leads:
        raise inbox.Unmatched(f"no lead with phone {phone!r}")
    inbox.event_link_lead(event, leads[0])
    if keyword == "start":
        # Lift only what a STOP put there; "unreachable" and other reasons stay.
        Suppression.objects.filter(
            kind=SuppressionKind.PHONE, value=phone, reason="sms_stop"
        ).delete()
        for pk in leads:
            business_opt_in_sms(business=pk, source=src, at=at, provider_event=event)
        return
    if keyword == "help":
        if not LeadEvent.objects.filter(provider_event=event).exists():
            lead_event_add(
                business=leads[0],
                kind=LeadEventKind.PROVIDER_EVENT,
                source=src,
                summary=f"SMS help request: {body}"[:500],
                at=at,
                data={"keyword": "help", "text": body},
                provider_event=event,
            )
        return
    answered = (
        Message.objects.filter(
            business_id=leads[0], direction=Direction.OUTBOUND, channel=Channel.SMS
        )
        .filter(Q(to_address=phone) | Q(to_address=p.get("From") or ""))
        .order_by("-created_at", "-pk")
        .first()
    )
    reply_record(
        business=leads[0],
        channel=Channel.SMS,
        body=body,
        at=at,
        provider_message_id=p.get("MessageSid") or p.get("SmsSid") or event.event_id,
        from_address=phone,
        to_address=p.get("To") or "",
        in_reply_to=answered,
        event=event,
    )


# --- staff answers ----------------------------------------------------------------------------

ANSWER_MAX = {Channel.SMS: 1600, Channel.EMAIL: 20_000}


def lead_replies_mark_read(*, business: Business | int) -> int:
    """Answering a lead means its replies were read: mark every unread one. Returns how many."""
    business_id = business.pk if isinstance(business, Business) else business
    unread = Message.objects.filter(
        business_id=business_id, direction=Direction.INBOUND, read_at__isnull=True
    ).values_list("pk", flat=True)
    return sum(msg.message_mark_read(message=pk) for pk in list(unread))


def reply_answer_send(*, reply: Message, subject: str = "", body: str, actor) -> Message:
    """A staff answer to one reply, in the reply's channel (an email answer keeps its
    subject), through the one sending path; the lead's replies are then read. Raises the
    sender's refusal (opt-out, suppression, quiet hours, an empty body) unchanged."""
    from campaigns.services import message_send_oneoff

    if len(body or "") > ANSWER_MAX[reply.channel]:
        raise SendRefused(
            "too_long", f"An answer is at most {ANSWER_MAX[reply.channel]:,} characters."
        )
    sent = message_send_oneoff(
        business=reply.business,
        channel=reply.channel,
        subject=subject if reply.channel == Channel.EMAIL else "",
        body=body,
        actor=actor,
        in_reply_to=reply,
    )
    if sent.status not in (MessageStatus.FAILED, MessageStatus.CANCELLED):
        lead_replies_mark_read(business=reply.business_id)
    return sent


def sms_reply_send(*, business: Business, body: str, actor) -> Message:
    """A staff answer to a lead's SMS, through the one sending path. Raises the sender's
    refusal (opt-out, suppression, quiet hours) unchanged."""
    from campaigns.services import message_send_oneoff

    last_inbound = (
        Message.objects.filter(business=business, direction=Direction.INBOUND, channel=Channel.SMS)
        .order_by("-created_at", "-pk")
        .first()
    )
    return message_send_oneoff(
        business=business, channel=Channel.SMS, body=body, actor=actor, in_reply_to=last_inbound
    )
