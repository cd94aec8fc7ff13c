"""Every receiver the campaigns app has, connected in CampaignsConfig.ready()."""

from __future__ import annotations

from campaigns.lifecycle import messages_cancel_queued
from crm import signals
from crm.models import ContactStatus

STOP_SENDING = {ContactStatus.UNSUBSCRIBED, ContactStatus.PURCHASED}


def cancel_queued_messages_on_contact_status_changed(sender, *, business, old, new, source, **kw):
    """A lead that unsubscribed or purchased gets none of its still-queued messages."""
    if new not in STOP_SENDING:
        return
    messages_cancel_queued(business_id=business.pk, reason=f"lead {new}")


def connect() -> None:
    signals.contact_status_changed.connect(
        cancel_queued_messages_on_contact_status_changed,
        dispatch_uid="campaigns.cancel_queued_messages_on_contact_status_changed",
    )
