"""Every signal of the project and the receivers connected to it: the hidden wiring, in one
readable list. A new receiver must be added here on purpose."""

from crm import signals
from crm.models import Business


def _receivers(signal):
    sync, async_ = signal._live_receivers(Business)
    return sorted(f"{r.__module__}.{r.__qualname__}" for r in [*sync, *async_])


def test_the_wiring_of_every_signal():
    assert _receivers(signals.contact_status_changed) == [
        "campaigns.receivers.cancel_queued_messages_on_contact_status_changed",
    ]
    assert _receivers(signals.website_status_changed) == []
