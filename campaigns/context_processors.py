"""The unread-replies count shown in the CRM navigation."""

from campaigns.models import Direction, Message
from crm.permissions import is_staff


def unread_replies(request):
    if not is_staff(getattr(request, "user", None)):
        return {}
    count = Message.objects.filter(direction=Direction.INBOUND, read_at__isnull=True).count()
    return {"unread_replies": count}
