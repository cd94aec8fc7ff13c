"""The pitch: one campaign message (and maybe its follow-up), what the provider reported and
what the prospect did. Messages are rendered by campaigns.sending's own functions (the
campaign step's templates, the merge fields, the tracked and unsubscribe links); their
statuses move through campaigns.lifecycle's rules (SEND_MOVES, TRACK_MARKS); opt-outs and
bounces land on the suppression list as campaigns.suppression stores them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from campaigns.lifecycle import message_status_after
from campaigns.models import Channel, Direction, Message, MessageStatus, SuppressionKind
from campaigns.sending import campaign_step_templates, message_sent_event, render_message
from crm.lifecycle import bounce_event, opt_out_event
from crm.models import Business, ContactStatus, EventSource, LeadEventKind
from sites.models import SiteStatus
from webmagic.demo import purchases, sites
from webmagic.demo.data import (
    BOUNCE_ERROR,
    DAY,
    EMAIL_REPLIES,
    HOUR,
    SMS_FAIL_ERROR,
    SMS_REPLIES,
    P,
)
from webmagic.demo.story import LeadStory

CS, MS = ContactStatus, MessageStatus
WEBHOOK = EventSource.WEBHOOK


def channel_for(world, business: Business) -> str | None:
    """Email when the lead has an address (a few leads with both get SMS), else SMS."""
    rng = world.rng
    if business.email and (not business.phone or rng.random() >= P["sms_channel"]):
        return Channel.EMAIL
    if business.phone and (business.email or rng.random() < P["sms_only"]):
        return Channel.SMS
    return None


def pitch(world, story: LeadStory, business: Business, site, channel: str, send_at: datetime):
    """The campaign running when the pitch is due sends it; a delivered email that did not
    stop the sequence gets its follow-up three to four days later."""
    window = world.campaign_for(channel, send_at)
    if window is None:
        return
    pitched = Pitch(world, story, business, site, window, channel)
    now = world.now
    if send_at > now:
        if window.running and send_at < now + 3 * DAY:
            pitched.queued(1, send_at)
        return
    outcome = pitched.sent(1, send_at)
    if channel != Channel.EMAIL or outcome != "delivered" or world.rng.random() >= P["followup"]:
        return
    follow_at = send_at + timedelta(days=world.rng.uniform(3, 4))
    if follow_at <= now:
        pitched.sent(2, follow_at)
    elif window.running:
        pitched.queued(2, follow_at)


class Pitch:
    """One lead's messages from one campaign."""

    def __init__(self, world, story: LeadStory, business: Business, site, window, channel):
        self.world, self.story, self.business, self.site = world, story, business, site
        self.window, self.channel = window, channel
        self.rng = world.rng
        self.address = business.email if channel == Channel.EMAIL else business.phone_normalized

    def _row(self, step: int) -> tuple[int, dict[str, Any]]:
        messages = self.world.tables[Message]
        return messages.reserve(), {
            "campaign_id": self.window.pk,
            "step": step,
            "direction": Direction.OUTBOUND,
            "business_id": self.business.pk,
            "site_id": self.site["id"],
            "channel": self.channel,
            "to_address": self.address,
            "from_address": self.world.sender_for(self.channel),
            "token": self.world.token(),
            "status": MS.QUEUED,
        }

    def queued(self, step: int, at: datetime) -> None:
        """Planned by the running campaign: rendered when it is sent."""
        pk, row = self._row(step)
        self.world.tables[Message].put(
            pk, {**row, "send_after": at, "created_at": self.window.start}
        )

    def sent(self, step: int, at: datetime) -> str:
        """Sent at `at`, then whatever followed. Returns 'bounced', 'failed', 'engaged',
        'stopped' or 'delivered'."""
        pk, row = self._row(step)
        self._send(pk, row, at)
        try:
            return self._followed(pk, row, at)
        finally:
            self.world.tables[Message].put(pk, row)

    def _send(self, pk: int, row: dict[str, Any], at: datetime) -> None:
        """message_send: claimed, rendered, sent; the lead contacted."""
        fields = {k: v for k, v in row.items() if k != "business_id"}
        message = Message(id=pk, business=self.business, **fields)
        subject, body = campaign_step_templates(self.window.campaign, row["step"])
        first_sms = self.channel == Channel.SMS and not self.story.texted
        rendered = render_message(message, subject=subject, body=body, first_sms=first_sms)
        status = message_status_after("mark_sent", message_status_after("claim", row["status"]))
        row.update(
            status=status,
            subject=rendered.subject[:300],
            body=rendered.body,
            provider_message_id=self.world.provider_message_id(self.channel),
            created_at=max(self.window.start, at - 2 * HOUR),
            sending_started_at=at - timedelta(seconds=1),
            sent_at=at,
        )
        self.story.texted |= self.channel == Channel.SMS
        self.story.line(message_sent_event(message, rendered, at=at), message_id=pk)
        self.story.contacted(at, self.channel, message_id=pk)

    def _followed(self, pk: int, row: dict[str, Any], sent: datetime) -> str:
        rng, now = self.rng, self.world.now
        if self.channel == Channel.EMAIL and row["step"] == 1 and rng.random() < P["bounce"]:
            return self._bounced(pk, row, sent + timedelta(seconds=rng.uniform(1, 90)))
        if self.channel == Channel.SMS and rng.random() < P["sms_fail"]:
            return self._failed(pk, row, sent + timedelta(seconds=rng.uniform(2, 30)))
        delivered = sent + timedelta(seconds=rng.uniform(2, 120))
        if delivered > now:
            return "delivered"
        row.update(status=message_status_after("delivered", row["status"]), delivered_at=delivered)
        engaged_at = self._engaged(pk, row, delivered)
        return self._answered(pk, row, delivered, engaged_at)

    def _bounced(self, pk: int, row: dict[str, Any], at: datetime) -> str:
        if at > self.world.now:
            return "delivered"
        row.update(
            status=message_status_after("bounced", row["status"]), bounced_at=at, error=BOUNCE_ERROR
        )
        self.story.bounced = at
        self.story.line(bounce_event(reason=BOUNCE_ERROR, source=WEBHOOK, at=at), message_id=pk)
        self.story.advance(at, CS.BOUNCED, WEBHOOK, message_id=pk)
        self.world.suppress(SuppressionKind.EMAIL, self.address, "bounced", "anymail", at)
        return "bounced"

    def _failed(self, pk: int, row: dict[str, Any], at: datetime) -> str:
        if at > self.world.now:
            return "delivered"
        row.update(
            status=message_status_after("failed", row["status"]), failed_at=at, error=SMS_FAIL_ERROR
        )
        self.story.note(
            at,
            LeadEventKind.MESSAGE_FAILED,
            WEBHOOK,
            f"SMS failed: {SMS_FAIL_ERROR}",
            message_id=pk,
        )
        return "failed"

    def _engaged(self, pk: int, row: dict[str, Any], delivered: datetime) -> datetime | None:
        """Opened (email) and clicked through to the preview: when the prospect engaged."""
        rng, now = self.rng, self.world.now
        if self.channel == Channel.EMAIL:
            if rng.random() >= (P["open"] if row["step"] == 1 else P["open_followup"]):
                return None
            opened = delivered + timedelta(seconds=rng.expovariate(1 / (8 * 3600)))
            if opened > now:
                return None
            row.update(opened_at=opened, opened_count=1 + int(rng.expovariate(0.8)))
            self.story.advance(opened, CS.OPENED, WEBHOOK, message_id=pk)
            if rng.random() < P["click_of_open"]:
                self._clicked(pk, row, opened + timedelta(seconds=rng.uniform(30, 2 * 3600)))
            return row.get("clicked_at") or opened
        if rng.random() < P["sms_click"]:
            self._clicked(pk, row, delivered + timedelta(seconds=rng.expovariate(1 / 10800)))
        return row.get("clicked_at")

    def _clicked(self, pk: int, row: dict[str, Any], at: datetime) -> None:
        """The tracked link (track_click): counted, the lead `clicked`, the preview viewed."""
        if at > self.world.now:
            return
        row.update(clicked_at=at, clicked_count=1 + int(self.rng.expovariate(1.2)))
        self.story.advance(at, CS.CLICKED, WEBHOOK, message_id=pk)
        if self.site["status"] == SiteStatus.PREVIEW or self.site.get("first_viewed_at"):
            sites.viewed(self.world, self.story, self.site, at, message_id=pk)

    def _answered(self, pk, row, delivered: datetime, engaged_at: datetime | None) -> str:
        """A reply, a checkout from the preview, or an opt-out."""
        rng, now = self.rng, self.world.now
        clicked = row.get("clicked_at")
        if self.channel == Channel.EMAIL:
            reply_p = P["reply_clicked"] if clicked else (P["reply_opened"] if engaged_at else 0)
        else:
            reply_p = P["sms_reply"]
        base = engaged_at or delivered
        result = "engaged" if engaged_at else "delivered"
        if rng.random() < reply_p:
            self._replied(pk, row, base + timedelta(seconds=rng.uniform(600, 2 * 86400)))
            result = "engaged"
        if clicked is not None and rng.random() < P["checkout_of_click"]:
            at = clicked + timedelta(seconds=rng.uniform(60, 86400))
            purchases.checkout(self.world, self.story, self.business, row, pk, self.site, at)
            return "engaged"
        stop_p = P["unsubscribe"] if self.channel == Channel.EMAIL else P["sms_stop"]
        if rng.random() < stop_p:
            at = base + timedelta(seconds=rng.uniform(60, 3 * 86400))
            if at <= now:
                self._opted_out(pk, row, at)
                return "stopped"
        return result

    def _inbound(self, pk: int, row: dict[str, Any], at: datetime, **fields: Any) -> int:
        """An inbound message answering `pk` (reply_record / sms_inbound_apply)."""
        return self.world.tables[Message].add(
            campaign_id=None,
            step=1,
            direction=Direction.INBOUND,
            business_id=self.business.pk,
            site_id=row["site_id"],
            in_reply_to_id=pk,
            channel=row["channel"],
            to_address=row["from_address"],
            from_address=row["to_address"],
            status=MS.RECEIVED,
            provider_message_id=self.world.provider_message_id(row["channel"], inbound=True),
            created_at=at,
            **fields,
        )

    def _replied(self, pk: int, row: dict[str, Any], at: datetime) -> None:
        if at > self.world.now:
            return
        row["replied_at"] = at
        email = self.channel == Channel.EMAIL
        replies = EMAIL_REPLIES if email else SMS_REPLIES
        text = replies[int(self.rng.random() * len(replies))]
        read = at + timedelta(seconds=self.rng.uniform(300, 86400))
        reply_id = self._inbound(
            pk,
            row,
            at,
            subject=("Re: " + row["subject"]) if email else "",
            body=text,
            read_at=read if at < self.world.now - 2 * DAY else None,
        )
        self.story.note(
            at, LeadEventKind.REPLY, WEBHOOK, f"Reply: {text}", {"text": text}, message_id=reply_id
        )
        self.story.advance(at, CS.REPLIED, WEBHOOK, message_id=reply_id)

    def _opted_out(self, pk: int, row: dict[str, Any], at: datetime) -> None:
        """The unsubscribe link or a complaint (email), STOP (SMS): business_opt_out, and the
        address on the suppression list."""
        if self.channel == Channel.EMAIL:
            complaint = self.rng.random() < P["complaint_of_unsub"]
            reason = "complaint" if complaint else "unsubscribe link"
            self.story.email_opt_out = at
            self.world.suppress(
                SuppressionKind.EMAIL,
                self.address,
                "complaint" if complaint else "unsubscribed",
                "anymail" if complaint else "unsubscribe",
                at,
            )
        else:
            reason = "STOP"
            self.story.sms_opt_out = at
            pk = self._inbound(pk, row, at, body="STOP", read_at=at)
            self.world.suppress(SuppressionKind.PHONE, self.address, "stop", "twilio", at)
        event = opt_out_event(channel=self.channel, reason=reason, source=WEBHOOK, at=at)
        self.story.line(event, message_id=pk)
        self.story.advance(at, CS.UNSUBSCRIBED, WEBHOOK, message_id=pk)
