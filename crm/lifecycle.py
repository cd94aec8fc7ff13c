"""The Business status rules. The only code that changes a lead's statuses.

contact_status ranks (DESIGN.md): engagement only moves forward; `bounced` overrides the
statuses below `replied`; `unsubscribed` overrides everything below `purchased`;
`purchased` overrides everything. Those rules form one total order, so a single number per
status decides every automatic transition: a new status applies when it ranks higher.

Race-freedom: each change is a compare-and-set UPDATE (``WHERE contact_status = <what we
read>``). Under PostgreSQL's READ COMMITTED a concurrent committed change makes the
UPDATE match no row, and we read again and retry, so no update is ever lost and no lock is
held between statements. Every change writes a LeadEvent in the same transaction and sends
the matching signal after commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from crm import signals
from crm.models import (
    Business,
    ContactStatus,
    EventSource,
    LeadEvent,
    LeadEventKind,
    WebsiteStatus,
)
from crm.sql import row_insert

logger = logging.getLogger(__name__)

CS = ContactStatus
WS = WebsiteStatus

# The automatic-transition order. Gaps leave room; only comparisons matter.
CONTACT_RANK: dict[str, int] = {
    CS.PENDING: 0,
    CS.EMAILED: 10,
    CS.TEXTED: 10,
    CS.OPENED: 20,
    CS.CLICKED: 30,
    CS.BOUNCED: 35,  # above every status below `replied`
    CS.REPLIED: 40,
    CS.INTERESTED: 50,
    CS.UNSUBSCRIBED: 55,  # above every status below `purchased`, and above `bounced`
    CS.PURCHASED: 60,
}

# The engagement ladder of DESIGN.md (0–6). furthest_contact_status keeps the highest rung
# a lead ever reached, so funnels count leads that reached a stage even if they later
# unsubscribed or bounced.
ENGAGEMENT_RANK: dict[str, int] = {
    CS.PENDING: 0,
    CS.EMAILED: 1,
    CS.TEXTED: 1,
    CS.OPENED: 2,
    CS.CLICKED: 3,
    CS.REPLIED: 4,
    CS.INTERESTED: 5,
    CS.PURCHASED: 6,
}

WEBSITE_RANK: dict[str, int] = {
    WS.NONE: 0,
    WS.GENERATING: 10,
    WS.GENERATED: 20,
    WS.DEPLOYED: 30,
    WS.ARCHIVED: 35,  # archiving is allowed from anything but `sold`
    WS.SOLD: 40,
}


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str


class LifecycleError(ValueError):
    """A transition that the rules do not allow (e.g. an unknown status)."""


def _pk(business: Business | int) -> int:
    return business.pk if isinstance(business, Business) else int(business)


def statuses_reached(stage: str) -> list[str]:
    """Engagement statuses at or above `stage`: for funnel counts on furthest_contact_status."""
    floor = ENGAGEMENT_RANK[stage]
    return [s for s, rank in ENGAGEMENT_RANK.items() if rank >= floor]


def lead_event_add(
    *,
    business: Business | int,
    kind: str,
    source: str,
    summary: str = "",
    at: datetime | None = None,
    actor=None,
    data: dict[str, Any] | None = None,
    **links: Any,
) -> LeadEvent:
    """Append one line to a lead's timeline. `links`: message, site, payment, provider_event."""
    event = LeadEvent(
        business_id=_pk(business),
        kind=kind,
        source=source,
        summary=summary[:500],
        at=at or timezone.now(),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        data=data or {},
        **links,
    )
    row_insert(event)  # the timeline's one writer, on every webhook: no per-call compiling
    return event


def _send_after_commit(signal, *, business_id: int, old: str, new: str, source: str) -> None:
    def send() -> None:
        if not signal.has_listeners(Business):
            return
        # Loaded only by a receiver that reads it (most changes concern none of them).
        business = SimpleLazyObject(lambda: Business.objects.get(pk=business_id))
        for receiver, result in signal.send_robust(
            sender=Business, business=business, old=old, new=new, source=source
        ):
            if isinstance(result, Business.DoesNotExist):
                continue  # deleted since: nothing to act on
            if isinstance(result, Exception):
                logger.error(
                    "receiver %r of %s failed for business %s",
                    receiver,
                    "status change",
                    business_id,
                    exc_info=result,
                )

    transaction.on_commit(send)


# --- the timeline lines the rules write (pure: also what seed_demo writes) -----------------


def status_change_event(
    change: Change, *, source: str, at: datetime, actor=None, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The LeadEvent fields of a status change (kind, source, summary, at, actor, data)."""
    is_contact = change.field == "contact_status"
    label = "Contact" if is_contact else "Website"
    return {
        "kind": LeadEventKind.CONTACT_STATUS if is_contact else LeadEventKind.WEBSITE_STATUS,
        "source": source,
        "summary": f"{label} status {change.old} → {change.new}",
        "at": at,
        "actor": actor,
        "data": {"old": change.old, "new": change.new, **(data or {})},
    }


def opt_out_event(
    *, channel: str, reason: str, source: str, at: datetime, actor=None
) -> dict[str, Any]:
    return {
        "kind": LeadEventKind.OPT_OUT,
        "source": source,
        "summary": f"Opted out of {channel}" + (f" ({reason})" if reason else ""),
        "at": at,
        "actor": actor,
        "data": {"channel": channel, "reason": reason},
    }


def opt_in_event(*, source: str, at: datetime, actor=None) -> dict[str, Any]:
    return {
        "kind": LeadEventKind.OPT_IN,
        "source": source,
        "summary": "SMS consent recorded",
        "at": at,
        "actor": actor,
        "data": {"channel": "sms"},
    }


def bounce_event(*, reason: str, source: str, at: datetime) -> dict[str, Any]:
    return {
        "kind": LeadEventKind.BOUNCED,
        "source": source,
        "summary": "Email address bounced" + (f": {reason}" if reason else ""),
        "at": at,
        "actor": None,
        "data": {"reason": reason},
    }


def _record_change(
    *,
    business_id: int,
    change: Change,
    source: str,
    at: datetime,
    actor,
    data: dict[str, Any] | None,
    links: dict[str, Any],
) -> None:
    lead_event_add(
        business=business_id,
        **status_change_event(change, source=source, at=at, actor=actor, data=data),
        **links,
    )
    _send_after_commit(
        signals.contact_status_changed
        if change.field == "contact_status"
        else signals.website_status_changed,
        business_id=business_id,
        old=change.old,
        new=change.new,
        source=source,
    )


def _check(value: str, allowed: dict[str, int] | type, field: str) -> None:
    values = allowed.values if isinstance(allowed, type) else allowed
    if value not in values:
        raise LifecycleError(f"{value!r} is not a valid {field}")


def advance_moves(current: str, furthest: str, to: str) -> tuple[bool, bool]:
    """(does contact_status move, does furthest_contact_status move) if `to` is applied to a
    lead at `current` / `furthest`: the forward-only rule."""
    status_moves = CONTACT_RANK[current] < CONTACT_RANK[to]
    furthest_moves = to in ENGAGEMENT_RANK and ENGAGEMENT_RANK[furthest] < ENGAGEMENT_RANK[to]
    return status_moves, furthest_moves


def website_moves(current: str, to: str) -> bool:
    """Whether website_status moves from `current` to `to`: forward only, except that
    `generating` reopens an archived lead (a new site is being generated for it)."""
    reopened = current == WS.ARCHIVED and to == WS.GENERATING
    return WEBSITE_RANK[current] < WEBSITE_RANK[to] or reopened


def business_advance(
    *,
    business: Business | int,
    to: str,
    source: str,
    at: datetime | None = None,
    actor=None,
    data: dict[str, Any] | None = None,
    expected: tuple[str, str] | None = None,
    **links: Any,
) -> Change | None:
    """Apply an automatic contact-status transition if `to` outranks the current status.

    Also raises furthest_contact_status when `to` is an engagement status above it (even if
    contact_status itself does not move, e.g. a late "opened" for an unsubscribed lead).
    Returns the contact_status change, or None when the status stayed.

    `expected`: the lead's (contact_status, furthest_contact_status) as the caller just read
    them (the webhook hot path reads them with the message); the compare-and-set starts from
    them instead of reading the row again, and reads it only if they were overtaken.
    The block takes no savepoint of its own: nothing in it raises but the database, whose
    errors abort the caller's transaction anyway.
    """
    _check(to, CONTACT_RANK, "contact_status")
    pk = _pk(business)
    at = at or timezone.now()
    change = missing = None
    with transaction.atomic(savepoint=False):
        row = expected
        while True:
            if row is None:
                row = (
                    Business.objects.filter(pk=pk)
                    .values_list("contact_status", "furthest_contact_status")
                    .first()
                )
                if row is None:
                    missing = True
                    break
            old, furthest = row
            status_moves, furthest_moves = advance_moves(old, furthest, to)
            if not status_moves and not furthest_moves:
                break
            fields: dict[str, Any] = {"updated_at": timezone.now()}
            if status_moves:
                fields.update(contact_status=to, contact_status_changed_at=at)
            if furthest_moves:
                fields["furthest_contact_status"] = to
            if Business.objects.filter(
                pk=pk, contact_status=old, furthest_contact_status=furthest
            ).update(**fields):
                if status_moves:
                    change = Change("contact_status", old, to)
                    _record_change(
                        business_id=pk,
                        change=change,
                        source=source,
                        at=at,
                        actor=actor,
                        data=data,
                        links=links,
                    )
                break
            row = None  # overtaken by a concurrent change: read again
    if missing:
        raise Business.DoesNotExist(f"Business {pk} does not exist")
    return change


def business_record_contact(
    *,
    business: Business | int,
    channel: str,
    source: str,
    at: datetime | None = None,
    **links: Any,
) -> Change | None:
    """An email or SMS went out: emailed / texted, and last_contacted_at moves forward."""
    at = at or timezone.now()
    pk = _pk(business)
    to = CS.TEXTED if channel == "sms" else CS.EMAILED
    with transaction.atomic():
        Business.objects.filter(pk=pk).filter(
            Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lt=at)
        ).update(last_contacted_at=at)
        return business_advance(business=pk, to=to, source=source, at=at, **links)


def _set_timestamp_once(pk: int, field: str, at: datetime) -> bool:
    """Set a nullable timestamp if it is still empty. Returns whether it was set now."""
    return bool(
        Business.objects.filter(pk=pk, **{f"{field}__isnull": True}).update(
            **{field: at, "updated_at": timezone.now()}
        )
    )


def business_opt_out(
    *,
    business: Business | int,
    channel: str,
    source: str,
    reason: str = "",
    at: datetime | None = None,
    actor=None,
    **links: Any,
) -> Change | None:
    """Unsubscribe link, STOP keyword or complaint: opt-out timestamp(s) and `unsubscribed`.

    channel: "email", "sms" or "all". The caller adds the Suppression row (campaigns owns it).
    """
    if channel not in {"email", "sms", "all"}:
        raise LifecycleError(f"unknown opt-out channel {channel!r}")
    pk = _pk(business)
    at = at or timezone.now()
    fields = {
        "email": ["email_opt_out_at"],
        "sms": ["sms_opt_out_at"],
        "all": ["email_opt_out_at", "sms_opt_out_at"],
    }[channel]
    with transaction.atomic():
        newly = [f for f in fields if _set_timestamp_once(pk, f, at)]
        if newly:
            lead_event_add(
                business=pk,
                **opt_out_event(channel=channel, reason=reason, source=source, at=at, actor=actor),
                **links,
            )
        return business_advance(
            business=pk, to=CS.UNSUBSCRIBED, source=source, at=at, actor=actor, **links
        )


def business_opt_in_sms(
    *, business: Business | int, source: str, at: datetime | None = None, actor=None, **links: Any
) -> bool:
    """START / UNSTOP / YES, or consent recorded by staff: lift the SMS opt-out, record consent.

    The contact status stays as it is (an opt-in is not engagement)."""
    pk = _pk(business)
    at = at or timezone.now()
    with transaction.atomic():
        changed = (
            Business.objects.filter(pk=pk)
            .filter(Q(sms_opt_out_at__isnull=False) | Q(sms_consent_at__isnull=True))
            .update(sms_opt_out_at=None, sms_consent_at=at, updated_at=timezone.now())
        )
        if changed:
            lead_event_add(business=pk, **opt_in_event(source=source, at=at, actor=actor), **links)
        return bool(changed)


def business_mark_bounced(
    *,
    business: Business | int,
    source: str,
    reason: str = "",
    at: datetime | None = None,
    **links: Any,
) -> Change | None:
    """A hard bounce: email_bounced_at, and `bounced` unless the lead replied or better."""
    pk = _pk(business)
    at = at or timezone.now()
    with transaction.atomic():
        if _set_timestamp_once(pk, "email_bounced_at", at):
            lead_event_add(
                business=pk, **bounce_event(reason=reason, source=source, at=at), **links
            )
        return business_advance(business=pk, to=CS.BOUNCED, source=source, at=at, **links)


def business_set_do_not_contact(
    *, business: Business | int, actor, reason: str = "", source: str = EventSource.MANUAL
) -> bool:
    pk = _pk(business)
    now = timezone.now()
    with transaction.atomic():
        if not _set_timestamp_once(pk, "do_not_contact_at", now):
            return False
        lead_event_add(
            business=pk,
            kind=LeadEventKind.DO_NOT_CONTACT,
            source=source,
            summary="Marked do-not-contact" + (f": {reason}" if reason else ""),
            at=now,
            actor=actor,
            data={"reason": reason},
        )
        return True


def business_advance_website(
    *,
    business: Business | int,
    to: str,
    source: str,
    at: datetime | None = None,
    actor=None,
    data: dict[str, Any] | None = None,
    **links: Any,
) -> Change | None:
    """Move website_status forward (none → generating → generated → deployed → sold;
    archived from anything but sold). `generating` also leaves `archived`: a new site is
    being generated for an archived lead (only site generation starts it). Returns the
    change or None."""
    _check(to, WEBSITE_RANK, "website_status")
    pk = _pk(business)
    at = at or timezone.now()
    with transaction.atomic():
        while True:
            old = Business.objects.filter(pk=pk).values_list("website_status", flat=True).first()
            if old is None:
                raise Business.DoesNotExist(f"Business {pk} does not exist")
            if not website_moves(old, to):
                return None
            if Business.objects.filter(pk=pk, website_status=old).update(
                website_status=to, website_status_changed_at=at, updated_at=timezone.now()
            ):
                break
        change = Change("website_status", old, to)
        _record_change(
            business_id=pk, change=change, source=source, at=at, actor=actor, data=data, links=links
        )
        return change


def business_revert_website(
    *,
    business: Business | int,
    expected: str,
    back_to: str,
    source: str,
    reason: str,
    **links: Any,
) -> Change | None:
    """Undo a transition that did not finish (site generation failed): only if the status is
    still `expected`, so a concurrent success is never undone."""
    _check(back_to, WEBSITE_RANK, "website_status")
    pk = _pk(business)
    now = timezone.now()
    with transaction.atomic():
        if not Business.objects.filter(pk=pk, website_status=expected).update(
            website_status=back_to, website_status_changed_at=now, updated_at=now
        ):
            return None
        change = Change("website_status", expected, back_to)
        _record_change(
            business_id=pk,
            change=change,
            source=source,
            at=now,
            actor=None,
            data={"reason": reason},
            links=links,
        )
        return change


def business_set_status(
    *,
    business: Business | int,
    actor,
    contact_status: str | None = None,
    website_status: str | None = None,
    note: str = "",
    source: str = EventSource.MANUAL,
) -> list[Change]:
    """Staff override: set any status, recorded with the actor. furthest_contact_status only
    ever rises (a lead that reached `replied` keeps having reached it)."""
    if contact_status is not None:
        _check(contact_status, CONTACT_RANK, "contact_status")
    if website_status is not None:
        _check(website_status, WEBSITE_RANK, "website_status")
    pk = _pk(business)
    now = timezone.now()
    changes: list[Change] = []
    with transaction.atomic():
        row = Business.objects.select_for_update().filter(pk=pk).first()
        if row is None:
            raise Business.DoesNotExist(f"Business {pk} does not exist")
        update_fields = ["updated_at"]
        if contact_status is not None and contact_status != row.contact_status:
            changes.append(Change("contact_status", row.contact_status, contact_status))
            row.contact_status = contact_status
            row.contact_status_changed_at = now
            update_fields += ["contact_status", "contact_status_changed_at"]
            if (
                ENGAGEMENT_RANK.get(contact_status, -1)
                > ENGAGEMENT_RANK[row.furthest_contact_status]
            ):
                row.furthest_contact_status = contact_status
                update_fields.append("furthest_contact_status")
        if website_status is not None and website_status != row.website_status:
            changes.append(Change("website_status", row.website_status, website_status))
            row.website_status = website_status
            row.website_status_changed_at = now
            update_fields += ["website_status", "website_status_changed_at"]
        if not changes:
            return []
        row.save(update_fields=update_fields)
        for change in changes:
            _record_change(
                business_id=pk,
                change=change,
                source=source,
                at=now,
                actor=actor,
                data={"manual": True, "note": note} if note else {"manual": True},
                links={},
            )
    return changes
