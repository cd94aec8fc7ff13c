"""Every signal the project sends or listens to, with its receivers: the hidden wiring, in one
readable list. A new receiver must be added here on purpose."""

from anymail.signals import inbound, tracking

from crm import signals
from crm.models import Business


def _receivers(signal, sender=Business):
    sync, async_ = signal._live_receivers(sender)
    return sorted(f"{r.__module__}.{r.__qualname__}" for r in [*sync, *async_])


def test_the_wiring_of_every_signal():
    assert _receivers(signals.contact_status_changed) == [
        "campaigns.receivers.cancel_queued_messages_on_contact_status_changed",
    ]
    assert _receivers(signals.website_status_changed) == []
    # anymail's webhooks → our inbox (stored first, then applied).
    assert _receivers(tracking, sender=object) == [
        "campaigns.events.store_and_apply_on_tracking",
    ]
    assert _receivers(inbound, sender=object) == [
        "campaigns.events.store_and_apply_on_inbound",
    ]
