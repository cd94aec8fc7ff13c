"""Tracked links, the Replies list and staff SMS answers."""

from __future__ import annotations

import re

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST, require_safe

from campaigns import lifecycle as msg
from campaigns.models import Direction, LinkHit, Message
from campaigns.replies import lead_replies_mark_read, reply_answer_send, sms_reply_send
from campaigns.sending import SendRefused
from campaigns.sms import SmsSendError
from crm.lifecycle import business_advance, lead_event_add
from crm.models import Business, ContactStatus, EventSource, LeadEventKind
from crm.permissions import can_edit, editor_required, is_staff, staff_required
from sites.models import Site

# Link checkers, crawlers and mail scanners follow links too; they are not the prospect.
BOT_UA = re.compile(
    r"bot|crawl|spider|slurp|preview|facebookexternalhit|curl|wget|python-requests|"
    r"python-urllib|httpclient|headless|scanner|safelinks|proofpoint|mimecast|barracuda|"
    r"monitor|validator|java/|go-http-client|okhttp",
    re.IGNORECASE,
)
REPLY_PAGE = 100
RECENT_PAGE = 20
SMS_REPLY_MAX = 1600


def is_bot(request: HttpRequest) -> bool:
    agent = request.headers.get("User-Agent", "")
    return not agent or bool(BOT_UA.search(agent))


def _click_target(message: Message) -> Site | None:
    if message.site_id:
        return message.site
    return (
        Site.objects.filter(business_id=message.business_id)
        .exclude(status="archived")
        .order_by("-created_at")
        .first()
    )


def _hit_reason(request: HttpRequest) -> str | None:
    """Why this hit can never be a click (None: it may be one)."""
    if request.method != "GET":
        return LinkHit.Reason.HEAD
    if is_bot(request):
        return LinkHit.Reason.BOT
    if is_staff(request.user):
        return LinkHit.Reason.STAFF
    return None


@require_safe  # GET and HEAD; a HEAD (link checkers) never counts
def track_click(request: HttpRequest, token: str) -> HttpResponse:
    """A tracked link from a message: record the hit, count it as a click when it opens a
    new click window (lifecycle.CLICK_WINDOW), then show the preview site."""
    message = (
        Message.objects.select_related("site")
        .filter(token=token, direction=Direction.OUTBOUND)
        .first()
    )
    if message is None:
        raise Http404("unknown link")
    site = _click_target(message)
    if site is None:
        raise Http404("no preview site for this link")
    at = timezone.now()
    reason = _hit_reason(request)
    with transaction.atomic():
        counted = reason is None and msg.message_click_window_claim(message=message, at=at)
        LinkHit.objects.create(
            message=message,
            at=at,
            counted=counted,
            reason=LinkHit.Reason.CLICK if counted else (reason or LinkHit.Reason.REPEAT),
            user_agent=request.headers.get("User-Agent", "")[:300],
        )
        if counted:
            msg.message_mark_clicked(message=message, at=at)
            lead_event_add(
                business=message.business_id,
                kind=LeadEventKind.CLICKED,
                source=EventSource.PUBLIC,
                summary=f"Opened the preview site /p/{site.slug}/ from the message link",
                at=at,
                data={"channel": message.channel, "path": f"/p/{site.slug}/"},
                message=message,
                site=site,
            )
            business_advance(
                business=message.business_id,
                to=ContactStatus.CLICKED,
                source=EventSource.PUBLIC,
                at=at,
                message=message,
                site=site,
            )
    response = HttpResponseRedirect(reverse("sites:preview", args=[site.slug]))
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "no-store"
    return response


@staff_required
@require_GET
def reply_list(request: HttpRequest) -> HttpResponse:
    """Inbound replies: the unread ones newest first, then recently read ones; each one
    answered, marked read or unread, or opened on its lead from here."""
    base = Message.objects.filter(direction=Direction.INBOUND).select_related(
        "business", "in_reply_to"
    )
    unread = list(base.filter(read_at__isnull=True).order_by("-created_at", "-pk")[:REPLY_PAGE])
    recent = list(base.filter(read_at__isnull=False).order_by("-created_at", "-pk")[:RECENT_PAGE])
    return render(
        request,
        "campaigns/reply_list.html",
        {
            "unread": unread,
            "recent": recent,
            "unread_ids": [m.pk for m in unread],
            "can_edit": can_edit(request.user),
        },
    )


def _safe_next(request: HttpRequest, default: str) -> str:
    nxt = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return nxt
    return default


def _reply_row(request: HttpRequest, reply: Message, **extra) -> HttpResponse:
    """One reply's row of the list, after an htmx action on it (with the navigation's
    unread count, out of band)."""
    reply = Message.objects.select_related("business", "in_reply_to").get(pk=reply.pk)
    context = {"m": reply, "can_edit": True, "oob_count": True, **extra}
    return render(request, "campaigns/reply_list.html#reply-row", context)


def _posted_ids(request: HttpRequest) -> list[int] | None:
    try:
        return [int(x) for x in request.POST.getlist("ids")][:1000]
    except ValueError:
        return None


@editor_required
@require_POST
def reply_mark_read(request: HttpRequest) -> HttpResponse:
    """Mark the listed replies read (only those the reader saw, never ones that arrived
    since the page was rendered)."""
    ids = _posted_ids(request)
    if ids is None:
        return HttpResponse("ids must be integers", status=400)
    now = timezone.now()
    marked = sum(msg.message_mark_read(message=pk, at=now) for pk in ids)
    if request.htmx and len(ids) == 1:
        reply = get_object_or_404(Message, pk=ids[0], direction=Direction.INBOUND)
        return _reply_row(request, reply)
    messages.success(request, f"{marked} repl{'y' if marked == 1 else 'ies'} marked read.")
    return redirect(_safe_next(request, reverse("campaigns:reply-list")))


@editor_required
@require_POST
def reply_mark_unread(request: HttpRequest) -> HttpResponse:
    """Put read replies back among the unread ones."""
    ids = _posted_ids(request)
    if ids is None:
        return HttpResponse("ids must be integers", status=400)
    marked = sum(msg.message_mark_unread(message=pk) for pk in ids)
    if request.htmx and len(ids) == 1:
        reply = get_object_or_404(Message, pk=ids[0], direction=Direction.INBOUND)
        return _reply_row(request, reply)
    messages.success(request, f"{marked} repl{'y' if marked == 1 else 'ies'} marked unread.")
    return redirect(_safe_next(request, reverse("campaigns:reply-list")))


@editor_required
@require_POST
def reply_answer(request: HttpRequest, pk: int) -> HttpResponse:
    """Answer one reply in its own channel, from the replies list."""
    reply = get_object_or_404(
        Message.objects.select_related("business"), pk=pk, direction=Direction.INBOUND
    )
    subject = (request.POST.get("subject") or "").strip()
    body = (request.POST.get("body") or "").strip()
    error = ""
    try:
        sent = reply_answer_send(reply=reply, subject=subject, body=body, actor=request.user)
    except (SendRefused, SmsSendError) as exc:  # empty, too long, opt-out, quiet hours …
        error = str(exc) or type(exc).__name__
    else:
        if sent.status in ("failed", "cancelled"):
            error = f"The answer was not sent: {sent.error}"
    if request.htmx:
        extra = {"answer_error": error, "answer_subject": subject, "answer_body": body}
        return _reply_row(request, reply, answered=not error, **extra)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Answer sent to {reply.business.name}.")
    return redirect(_safe_next(request, reverse("campaigns:reply-list")))


@editor_required
@require_POST
def sms_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff answer a lead by SMS (the one sending path: opt-outs, suppression, quiet hours)."""
    business = get_object_or_404(Business, pk=pk)
    body = (request.POST.get("body") or "").strip()
    error = ""
    if not body:
        error = "Write a message first."
    elif len(body) > SMS_REPLY_MAX:
        error = f"An SMS answer is at most {SMS_REPLY_MAX} characters."
    else:
        try:
            sent = sms_reply_send(business=business, body=body, actor=request.user)
        except (SendRefused, SmsSendError) as exc:  # opt-out, suppression, quiet hours …
            error = str(exc) or type(exc).__name__
        else:
            if sent.status == "failed":
                error = f"The SMS could not be sent: {sent.error}"
            elif sent.status == "cancelled":
                error = f"The SMS was not sent: {sent.error}"
    if not error:
        lead_replies_mark_read(business=business)
    default = business.get_absolute_url()
    if request.htmx:
        response = render(
            request,
            "campaigns/sms_reply_form.html",
            {"business": business, "sms_error": error, "sms_sent": not error, "sms_body": body},
        )
        if not error:
            response["HX-Trigger"] = "sms-reply-sent"
        return response
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "SMS sent.")
    return redirect(_safe_next(request, default))
