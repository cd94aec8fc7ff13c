"""One lead's story: its timeline lines and the status moves its events ask for, in any
order. Its statuses are what crm.lifecycle's own rules make of those moves in time order
(`advance_moves`, `website_moves`), and every status line is the lifecycle's own
(`status_change_event`): nothing here decides a transition a second time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crm.lifecycle import Change, advance_moves, status_change_event, website_moves
from crm.models import ContactStatus, EventSource, WebsiteStatus

CS, WS = ContactStatus, WebsiteStatus


class LeadStory:
    def __init__(self, created: datetime):
        self.created = created
        self.lines: list[dict[str, Any]] = []
        self.contact_moves: list[tuple[datetime, str, str, dict[str, Any]]] = []
        self.website_moves: list[tuple[datetime, str, int | None, int | None, bool]] = []
        self.last_contacted: datetime | None = None
        self.email_opt_out: datetime | None = None
        self.sms_opt_out: datetime | None = None
        self.bounced: datetime | None = None
        self.texted = False  # an SMS went out: the next one is not the first (STOP text)

    def line(self, fields: dict[str, Any], **links: Any) -> None:
        """A timeline line: LeadEvent fields (kind, source, summary, at, actor, data) as the
        lifecycle's or a service's own builder gives them, plus links (message_id, …)."""
        row = {**fields, **links}
        row["actor_id"] = row.pop("actor", None)
        row["summary"] = row["summary"][:500]
        row.setdefault("data", {})
        self.lines.append(row)

    def note(self, at, kind, source, summary, data=None, **links) -> None:
        self.line(
            {"kind": kind, "source": source, "summary": summary, "at": at, "data": data or {}},
            **links,
        )

    def contacted(self, at: datetime, channel: str, **links: Any) -> None:
        """business_record_contact: last_contacted_at moves forward, emailed / texted."""
        self.last_contacted = max(self.last_contacted or at, at)
        self.advance(at, CS.TEXTED if channel == "sms" else CS.EMAILED, EventSource.SYSTEM, **links)

    def advance(self, at: datetime, to: str, source: str, **links: Any) -> None:
        self.contact_moves.append((at, to, source, links))

    def website(self, at, to, site_id, *, actor: int | None = None, manual: bool = False):
        """A website_status move; `manual`: a staff member's (`actor`, when known)."""
        self.website_moves.append((at, to, site_id, actor, manual))

    def contact_statuses(self) -> tuple[str, datetime, str]:
        """(contact_status, changed at, furthest_contact_status) after every move in time
        order, as business_advance applies them; each change is put on the timeline."""
        status, status_at, furthest = CS.PENDING, self.created, CS.PENDING
        for at, to, source, links in sorted(self.contact_moves, key=lambda m: m[0]):
            status_moves, furthest_moves = advance_moves(status, furthest, to)
            if furthest_moves:
                furthest = to
            if status_moves:
                change = Change("contact_status", status, to)
                self.line(status_change_event(change, source=source, at=at), **links)
                status, status_at = to, at
        return status, status_at, furthest

    def website_status(self) -> tuple[str, datetime]:
        """(website_status, changed at) after every move in time order, as
        business_advance_website applies them; each change is put on the timeline."""
        status, status_at = WS.NONE, self.created
        for at, to, site_id, actor, manual in sorted(self.website_moves, key=lambda m: m[0]):
            if not website_moves(status, to):
                continue
            event = status_change_event(
                Change("website_status", status, to),
                source=EventSource.MANUAL if manual else EventSource.SYSTEM,
                at=at,
                actor=actor,
                data={"manual": True} if manual else None,
            )
            self.line(event, site_id=site_id)
            status, status_at = to, at
        return status, status_at

    def timeline(self, business_id: int) -> list[dict[str, Any]]:
        for row in self.lines:
            row["business_id"] = business_id
        return sorted(self.lines, key=lambda row: row["at"])
