"""The unread-replies count shown in the CRM navigation."""

from django.utils.functional import SimpleLazyObject

from campaigns.lifecycle import UNREAD_REPLIES_KEY
from campaigns.models import Direction, Message
from crm.memo import remembered
from crm.permissions import is_staff

TTL = 30  # seconds; see crm.memo


def _count() -> int:
    return Message.objects.filter(direction=Direction.INBOUND, read_at__isnull=True).count()


def unread_replies(request):
    """The count, read (from the cache, or counted) only by a template that shows it: an
    htmx fragment rendered with the request does not."""
    if not is_staff(getattr(request, "user", None)):
        return {}
    return {"unread_replies": SimpleLazyObject(lambda: remembered(UNREAD_REPLIES_KEY, _count, TTL))}
