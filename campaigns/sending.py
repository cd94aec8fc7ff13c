"""Sending one Message: merge fields, unsubscribe tokens and headers, quiet hours, the
send-time checks, and the provider call (email through Django's mail API / anymail, SMS
through `campaigns.sms`).

At most once per message: `message_send` claims the message (queued → sending,
compare-and-set) before it calls the provider, so a second worker holding the same
message id does nothing, and a worker that dies mid-send leaves the message in `sending`
for staff to look at instead of sending it again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from campaigns import lifecycle, policy
from campaigns.models import Campaign, CampaignStatus, Channel, Message, MessageStatus
from campaigns.sms import SmsSendError, send_sms
from campaigns.suppression import is_suppressed
from crm.contact import email_valid
from crm.lifecycle import business_record_contact, lead_event_add
from crm.models import Business, ContactStatus, EventSource, LeadEventKind
from crm.normalize import is_digits, phone_e164
from sites.models import Site, SiteStatus

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "campaigns.unsubscribe"
STOP_TEXT = "Reply STOP to opt out."

# --- refusals ---------------------------------------------------------------------------------


class SendRefused(Exception):
    """A message may not be sent to this lead now. `reason` is a short code (see REASONS);
    `retry_at` is set when waiting helps (SMS quiet hours)."""

    def __init__(self, reason: str, detail: str = "", retry_at: datetime | None = None) -> None:
        self.reason = reason
        self.retry_at = retry_at
        super().__init__(detail or REASONS.get(reason, reason))


# Exclusion / refusal reasons, in the order they are checked. Shared with the audience
# preview (campaigns.audience) so the page and the sender say the same thing.
REASONS: dict[str, str] = {
    "no_email": "No email address",
    "invalid_email": "Email address not valid",
    "no_phone": "No phone number",
    "invalid_phone": "Phone number not valid",
    "do_not_contact": "Marked do-not-contact",
    "suppressed": "On the suppression list (email, phone or domain)",
    "email_opted_out": "Opted out of email",
    "sms_opted_out": "Opted out of SMS",
    "no_sms_consent": "No SMS consent recorded",
    "bounced": "Email address bounced",
    "purchased": "Already purchased",
    "empty_city": "Empty merge field {{ city }}",
    "empty_category": "Empty merge field {{ category }}",
    "in_campaign": "Already in this campaign",
    "in_other_campaign": "In another campaign",
    "cooldown": "Contacted recently (cooldown)",
    "quiet_hours": "Quiet hours in the lead's time zone",
}


def refusal_reason(business: Business, channel: str, *, marketing: bool = True) -> str | None:
    """Why `business` may not get a message on `channel` now (None: it may).

    `marketing` adds the campaign-only rule (a customer who purchased gets no pitch);
    one-off messages (replies, checkout reminders) skip it."""
    if channel == Channel.EMAIL:
        if not business.email:
            return "no_email"
        if not email_valid(business.email):
            return "invalid_email"
    elif not business.phone:
        return "no_phone"
    elif not business.phone_normalized:
        return "invalid_phone"
    if business.do_not_contact_at:
        return "do_not_contact"
    if channel == Channel.EMAIL:
        if is_suppressed(email=business.email):
            return "suppressed"
        if business.email_opt_out_at:
            return "email_opted_out"
        if business.email_bounced_at:
            return "bounced"
    else:
        if is_suppressed(phone=business.phone_normalized):
            return "suppressed"
        if business.sms_opt_out_at:
            return "sms_opted_out"
        if not business.sms_consent_at:
            return "no_sms_consent"
    if marketing and business.contact_status == ContactStatus.PURCHASED:
        return "purchased"
    if business.contact_status == ContactStatus.UNSUBSCRIBED:
        return "email_opted_out" if channel == Channel.EMAIL else "sms_opted_out"
    return None


# --- quiet hours ----------------------------------------------------------------------------

_US_STATE_TZ: dict[str, str] = {}
for _zone, _states in {
    "America/New_York": "CT DE DC FL GA ME MD MA NH NJ NY NC OH PA RI SC VT VA WV MI IN KY",
    "America/Chicago": "AL AR IL IA KS LA MN MS MO NE ND OK SD TN TX WI",
    "America/Denver": "CO MT NM UT WY ID",
    "America/Phoenix": "AZ",
    "America/Los_Angeles": "CA NV OR WA",
    "America/Anchorage": "AK",
    "Pacific/Honolulu": "HI",
    "America/Puerto_Rico": "PR VI",
}.items():
    for _state in _states.split():
        _US_STATE_TZ[_state] = _zone
_US_STATE_NAMES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
    "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
    "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ",
    "new mexico": "NM", "new york": "NY", "north carolina": "NC", "north dakota": "ND",
    "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR",
}  # fmt: skip
_COUNTRY_TZ = {
    "GT": "America/Guatemala", "MX": "America/Mexico_City", "SV": "America/El_Salvador",
    "HN": "America/Tegucigalpa", "CR": "America/Costa_Rica", "PA": "America/Panama",
    "CO": "America/Bogota", "GB": "Europe/London", "ES": "Europe/Madrid",
}  # fmt: skip
# When the zone is unknown, a time must be allowed in both of these (the widest US span).
_FALLBACK_ZONES = ("America/New_York", "America/Los_Angeles")


def lead_time_zones(business: Business) -> tuple[ZoneInfo, ...]:
    """The lead's time zone from state / country, then the phone's area code; when unknown,
    the zones whose quiet hours together cover the continental US."""
    country = (business.country or "US").upper()
    if country == "US" or not business.country:
        state = (business.state or "").strip()
        code = state.upper() if len(state) == 2 else _US_STATE_NAMES.get(state.lower(), "")
        if code in _US_STATE_TZ:
            return (ZoneInfo(_US_STATE_TZ[code]),)
    elif country in _COUNTRY_TZ:
        return (ZoneInfo(_COUNTRY_TZ[country]),)
    zones = _phone_zones(business)
    return zones or tuple(ZoneInfo(z) for z in _FALLBACK_ZONES)


def _phone_zones(business: Business) -> tuple[ZoneInfo, ...]:
    import phonenumbers
    from phonenumbers import timezone as pn_timezone

    number = business.phone_normalized or phone_e164(business.phone, business.country or "US")
    if not number:
        return ()
    try:
        names = pn_timezone.time_zones_for_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return ()
    names = [n for n in names if n and n != "Etc/Unknown"]
    return tuple(ZoneInfo(n) for n in names[:4])


def _quiet(local: datetime) -> bool:
    start, end = settings.SMS_QUIET_START, settings.SMS_QUIET_END
    if start == end:
        return False
    if start > end:  # wraps midnight (21 → 8)
        return local.hour >= start or local.hour < end
    return start <= local.hour < end


def sms_quiet_until(business: Business, now: datetime | None = None) -> datetime | None:
    """None when a text may go now; otherwise the next time it may (aware, UTC)."""
    now = now or timezone.now()
    zones = lead_time_zones(business)
    candidate = now
    for _ in range(48 * 4):  # at most two days, in 15-minute steps
        if not any(_quiet(candidate.astimezone(z)) for z in zones):
            return None if candidate == now else candidate
        candidate = (candidate + timedelta(minutes=15)).replace(second=0, microsecond=0)
        candidate -= timedelta(minutes=candidate.minute % 15)
    return candidate


# --- links and merge fields -------------------------------------------------------------------


def unsubscribe_token(business: Business | int, channel: str = Channel.EMAIL) -> str:
    pk = business.pk if isinstance(business, Business) else int(business)
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(f"{pk}.{channel}")


def unsubscribe_unsign(token: str) -> tuple[int, str] | None:
    """(business id, channel) from a token, or None when it is forged or altered."""
    try:
        value = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token)
    except signing.BadSignature:
        return None
    pk, _, channel = value.partition(".")
    if not is_digits(pk) or channel not in Channel.values:
        return None
    return int(pk), channel


def unsubscribe_url(business: Business | int, channel: str = Channel.EMAIL) -> str:
    path = reverse("campaigns:unsubscribe", args=[unsubscribe_token(business, channel)])
    return settings.PUBLIC_BASE_URL + path


def tracked_url(message: Message) -> str:
    """The preview-site link carried by a message: a visit counts as a click for that lead."""
    return f"{settings.PUBLIC_BASE_URL}/c/{message.token}/"


def status_callback_url() -> str:
    try:
        path = reverse("campaigns:twilio-status")
    except NoReverseMatch:
        path = "/webhooks/twilio/status/"
    return settings.PUBLIC_BASE_URL + path


MERGE_FIELDS: dict[str, str] = {
    "business_name": "The lead's business name",
    "city": "The lead's city",
    "category": "The lead's category",
    "preview_url": "Tracked link to the lead's preview site",
    "unsubscribe_url": "One-click unsubscribe link",
    "sender_address": "Our physical postal address",
}
_FIELD = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def template_fields(*texts: str) -> set[str]:
    """The merge fields these templates use."""
    return {name for text in texts for name in _FIELD.findall(text or "")}


def template_errors(text: str) -> list[str]:
    """Unknown merge fields in a subject/body template (shown by the builder form)."""
    unknown = sorted({name for name in _FIELD.findall(text or "") if name not in MERGE_FIELDS})
    return [f"Unknown merge field {{{{ {name} }}}}" for name in unknown]


def render_text(template: str, context: dict[str, str]) -> str:
    """Substitute `{{ field }}`; plain text, so nothing is interpreted but the field names."""
    return _FIELD.sub(lambda m: context.get(m.group(1), m.group(0)), template or "")


def site_for(business: Business) -> Site | None:
    return (
        Site.objects.filter(business=business)
        .exclude(status=SiteStatus.ARCHIVED)
        .order_by("-created_at", "-pk")
        .first()
    )


def merge_context(message: Message) -> dict[str, str]:
    business = message.business
    return {
        "business_name": business.name,
        "city": business.city,
        "category": business.category,
        # An unsaved probe (the builder's sample, a test send) shows the link as it will be.
        "preview_url": tracked_url(message) if message.site_id or message.pk is None else "",
        "unsubscribe_url": unsubscribe_url(business, message.channel),
        "sender_address": settings.SENDER_POSTAL_ADDRESS,
    }


@dataclass
class Rendered:
    subject: str
    body: str
    # An email's HTML part is rendered when it is asked for (seed_demo stores only the text).
    html_context: dict[str, Any] | None = None

    @cached_property
    def html(self) -> str:
        if self.html_context is None:
            return ""
        return render_to_string("campaigns/email/message.html", self.html_context)


def sender_name() -> str:
    return settings.SMS_SENDER_NAME


def render_message(message: Message, *, subject: str, body: str, first_sms: bool) -> Rendered:
    context = merge_context(message)
    subject_text = " ".join(render_text(subject, context).split())
    body_text = render_text(body, context).strip()
    if message.channel == Channel.SMS:
        if first_sms:
            name = sender_name()
            if not body_text.lower().startswith(name.lower()):
                body_text = f"{name}: {body_text}"
            if "stop" not in body_text.lower():
                body_text = f"{body_text} {STOP_TEXT}"
        return Rendered(subject="", body=body_text)
    ctx = {**context, "body": body_text, "subject": subject_text}
    return Rendered(
        subject=subject_text,
        # Plain text, not SafeString: a page showing it must escape the scraped data in it.
        body=_plain(render_to_string("campaigns/email/message.txt", ctx)),
        html_context=ctx,
    )


def _plain(text: str) -> str:
    return text.encode().decode()


# --- the send ---------------------------------------------------------------------------------


def _is_first_sms(message: Message) -> bool:
    return not (
        Message.objects.filter(
            business_id=message.business_id,
            channel=Channel.SMS,
            direction="outbound",
            status__in=[MessageStatus.SENT, MessageStatus.DELIVERED],
        )
        .exclude(pk=message.pk)
        .exists()
    )


def _send_email(message: Message, rendered: Rendered, connection=None) -> str:
    from_email = message.from_address or settings.DEFAULT_FROM_EMAIL
    domain = from_email.rpartition("@")[2].strip(" >") or None
    message_id = make_msgid(domain=domain)
    unsubscribe = unsubscribe_url(message.business_id, Channel.EMAIL)
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.body,
        from_email=from_email,
        to=[message.to_address],
        headers={
            "Message-ID": message_id,
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        connection=connection,
    )
    if rendered.html:
        email.attach_alternative(rendered.html, "text/html")
    # anymail passes metadata to the ESP (SES message tags); other backends ignore it.
    email.metadata = {"wm_message": str(message.pk)}
    email.send(fail_silently=False)
    status = getattr(email, "anymail_status", None)
    return (getattr(status, "message_id", None) or message_id) if status else message_id


def _send_sms(message: Message, rendered: Rendered) -> str:
    return send_sms(
        to=message.to_address, body=rendered.body, status_callback=status_callback_url()
    )


def message_send(*, message: Message | int, connection=None, now: datetime | None = None) -> str:
    """Send one queued message. Returns what happened: sent, failed, cancelled, deferred,
    waiting (campaign not sending), waiting_site (its preview site is being generated), or
    skipped (not queued: someone else has it).

    Before the provider call, in this order: the lead's own refusals (opt-outs,
    suppression, consent…), SMS quiet hours, the preview site a `{{ preview_url }}` pitch
    needs (generated first when missing), no merge field rendering empty, and — under the
    lead's row lock, together with the claim queued → sending — the contact policy
    (campaigns.policy). Never raises for a provider error: it is recorded on the Message.
    """
    now = now or timezone.now()
    pk = message.pk if isinstance(message, Message) else int(message)
    msg = Message.objects.select_related("business", "campaign").filter(pk=pk).first()
    if msg is None or msg.status != MessageStatus.QUEUED:
        return "skipped"
    if msg.waiting_for:
        return "waiting_site"
    campaign: Campaign | None = msg.campaign
    if campaign is not None and campaign.status != CampaignStatus.SENDING:
        return "waiting"
    business = msg.business
    reason = refusal_reason(business, msg.channel, marketing=campaign is not None)
    if reason:
        lifecycle.message_cancel(message=msg, reason=REASONS[reason])
        return "cancelled"
    if msg.channel == Channel.SMS and (until := sms_quiet_until(business, now)):
        lifecycle.message_defer(message=pk, until=until)
        return "deferred"
    subject, body = msg.subject, msg.body
    if campaign is not None:
        subject, body = campaign_step_templates(campaign, msg.step)
    fields = template_fields(subject, body)
    if "preview_url" in fields and msg.site_id is None:
        site = site_for(business)
        if site is None:
            # Never a pitch with an empty link: it waits, and its chunk hands it to the site
            # generator when it ends (campaigns.services.campaign_settle).
            lifecycle.message_wait_for_site(message=pk)
            return "waiting_site"
        Message.objects.filter(pk=pk).update(site=site)
        msg.site = site
    if empty := empty_merge_fields(msg, fields):
        lifecycle.message_cancel(
            message=msg, reason="Empty merge field " + ", ".join(f"{{{{ {f} }}}}" for f in empty)
        )
        return "cancelled"
    with transaction.atomic():
        # The lead's row lock makes the policy check and the claim one step: two workers
        # claiming pitches of two campaigns for this lead see each other's claim.
        Business.objects.select_for_update().filter(pk=business.pk).values_list("pk").first()
        refusal = policy.pitch_refusal(message=msg, now=now)
        if refusal:
            lifecycle.message_cancel(message=msg, reason=refusal[1])
            return "cancelled"
        if not lifecycle.message_claim_for_sending(message=msg):
            return "skipped"

    try:
        rendered = render_message(
            msg,
            subject=subject,
            body=body,
            first_sms=msg.channel == Channel.SMS and _is_first_sms(msg),
        )
        Message.objects.filter(pk=pk).update(
            subject=rendered.subject[:300],
            body=rendered.body,
            from_address=(
                msg.from_address
                or (
                    settings.DEFAULT_FROM_EMAIL
                    if msg.channel == Channel.EMAIL
                    else settings.TWILIO_FROM_NUMBER
                )
            )[:254],
        )
        if msg.channel == Channel.EMAIL:
            provider_id = _send_email(msg, rendered, connection)
        else:
            provider_id = _send_sms(msg, rendered)
    except (SmsSendError, Exception) as exc:  # noqa: BLE001 - any provider error is recorded
        logger.warning("send of message %s failed: %s", pk, exc)
        lifecycle.message_mark_send_failed(message=pk, error=f"{type(exc).__name__}: {exc}")
        lead_event_add(
            business=business,
            kind=LeadEventKind.MESSAGE_FAILED,
            source=EventSource.SYSTEM,
            summary=f"{msg.get_channel_display()} could not be sent: {exc}"[:500],
            message=msg,
        )
        return "failed"
    sent_at = timezone.now()
    with transaction.atomic():
        lifecycle.message_mark_sent(message=pk, provider_message_id=provider_id, at=sent_at)
        lead_event_add(
            business=business,
            **message_sent_event(msg, rendered, at=sent_at),
            message=msg,
        )
        business_record_contact(
            business=business,
            channel=msg.channel,
            source=EventSource.SYSTEM,
            at=sent_at,
            message=msg,
        )
    return "sent"


def message_sent_event(message: Message, rendered: Rendered, *, at: datetime) -> dict:
    """The LeadEvent fields of a sent message's timeline line."""
    return {
        "kind": LeadEventKind.MESSAGE_SENT,
        "source": EventSource.SYSTEM,
        "summary": (
            f"Email sent: {rendered.subject}"
            if message.channel == Channel.EMAIL
            else f"SMS sent: {rendered.body[:80]}"
        ),
        "at": at,
        "actor": None,
        "data": {"campaign": message.campaign_id, "step": message.step},
    }


def empty_merge_fields(message: Message, fields: set[str]) -> list[str]:
    """The merge fields among `fields` that would render empty for this message."""
    context = merge_context(message)
    return sorted(name for name in fields if name in context and not context[name].strip())


def campaign_step_templates(campaign: Campaign, step: int) -> tuple[str, str]:
    """(subject, body) templates of a campaign step (1 = the first message)."""
    if step <= 1:
        return campaign.subject_template, campaign.body_template
    followups = campaign.followups or []
    spec = followups[step - 2] if step - 2 < len(followups) else {}
    return (
        spec.get("subject") or f"Re: {campaign.subject_template}",
        spec.get("body") or campaign.body_template,
    )


def email_connection():
    return get_connection(fail_silently=False)
