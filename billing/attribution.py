"""Attribution: which message, and so which campaign, a checkout is credited to.

Decided once, when the checkout is created (billing.services.checkout_create), and stored on
it (Checkout.message, Checkout.campaign). Revenue, purchases and MRR per campaign on every
page and endpoint read the stored value, so a number never moves because a later message
arrived. The rule (README "Attribution"), over the lead's outbound messages within
ATTRIBUTION_DAYS before the checkout:

1. the last message the lead clicked (the tracked link that brought the visitor to the
   Purchase button is such a click, happening now);
2. else the last message the lead opened (a human open) or replied to;
3. else the last message sent;
4. else none.

"Last" orders messages by the time of that engagement (each message keeps its first open /
click / reply); ties go to the newer message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from campaigns.metrics import HUMAN_OPEN
from campaigns.models import Direction, Message


def _last(qs, field: str, since: datetime, at: datetime) -> tuple[datetime, Message] | None:
    found = (
        qs.filter(**{f"{field}__gte": since, f"{field}__lte": at})
        .order_by(f"-{field}", "-pk")
        .first()
    )
    return (getattr(found, field), found) if found is not None else None


def checkout_attribution(
    *, business_id: int, at: datetime, hint: Message | None = None
) -> Message | None:
    """The message a checkout created at `at` for this lead is credited to (or None).
    `hint`: the message whose tracked link brought the visitor, if known."""
    outbound = Message.objects.filter(business_id=business_id, direction=Direction.OUTBOUND)
    if (
        hint is not None
        and hint.business_id == business_id
        and hint.direction == Direction.OUTBOUND
    ):
        return hint
    since = at - timedelta(days=settings.ATTRIBUTION_DAYS)
    clicked = _last(outbound, "clicked_at", since, at)
    if clicked is not None:
        return clicked[1]
    engaged = [
        found
        for found in (
            _last(outbound.filter(HUMAN_OPEN), "opened_at", since, at),
            _last(outbound, "replied_at", since, at),
        )
        if found is not None
    ]
    if engaged:
        return max(engaged, key=lambda pair: (pair[0], pair[1].pk))[1]
    sent = _last(outbound, "sent_at", since, at)
    return sent[1] if sent is not None else None
