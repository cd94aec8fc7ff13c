"""The hidden wiring in one readable list: every receiver the project's apps connect to any
signal, every handler registered with the inbox (crm/inbox.py), the URLs that override a
library's own, and the django-q2 tasks named by path.

The lists are read from the registries themselves (every Signal in a loaded module, the
inbox's handler table), not from the names this file expects, so a new receiver or handler
makes the comparison fail until it is written out below on purpose.
"""

import re
import sys
import weakref
from pathlib import Path

import pytest
from django.apps import apps
from django.dispatch import Signal
from django.urls import resolve
from django.utils.module_loading import import_string

from crm import inbox

PROJECT_APPS = ("crm", "sites", "campaigns", "billing", "webmagic")
ROOT = Path(__file__).resolve().parent.parent

# signal → [(sender, receiver)], written out once. "any" is a receiver for every sender.
EXPECTED_RECEIVERS = {
    "anymail.signals.inbound": [("any", "campaigns.events.store_and_apply_on_inbound")],
    "anymail.signals.tracking": [("any", "campaigns.events.store_and_apply_on_tracking")],
    "crm.signals.contact_status_changed": [
        ("any", "campaigns.receivers.cancel_queued_messages_on_contact_status_changed"),
    ],
    "crm.signals.website_status_changed": [],
}
EXPECTED_HANDLERS = {
    "anymail": "campaigns.events.apply_anymail_event",
    "recurrente": "billing.webhooks.event_apply",
    "twilio": "campaigns.events.apply_twilio_event",
}


def _name(func) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def _ours(module: str) -> bool:
    return module.split(".")[0] in PROJECT_APPS


def _signals() -> dict[str, Signal]:
    """Every Signal instance bound to a name in a loaded module, under the name of the
    module that declares it (a `signals` module when one holds it, else the shortest)."""
    found: dict[int, tuple[Signal, list[str]]] = {}
    for module_name, module in list(sys.modules.items()):
        for attr, value in list(getattr(module, "__dict__", {}).items()):
            if isinstance(value, Signal):
                found.setdefault(id(value), (value, []))[1].append(f"{module_name}.{attr}")
    named = {}
    for signal, names in found.values():
        declared = [n for n in names if n.rsplit(".", 1)[0].endswith("signals")] or names
        named[min(declared, key=lambda n: (len(n), n))] = signal
    return named


def _senders() -> dict[int, str]:
    """id → label of everything a receiver can be connected for: any sender, or a model."""
    labels = {id(None): "any"}
    labels.update({id(model): model._meta.label for model in apps.get_models()})
    return labels


def _wiring() -> dict[str, list[tuple[str, str]]]:
    """signal → sorted [(sender, receiver)] for receivers defined in the project's apps,
    read from each signal's own receiver list; plus every signal the project declares."""
    senders = _senders()
    wiring = {}
    for name, signal in _signals().items():
        rows = []
        for (_key, sender_id), receiver, _is_async in signal.receivers:
            func = receiver() if isinstance(receiver, weakref.ref) else receiver
            if func is None or not _ours(func.__module__):
                continue
            rows.append((senders.get(sender_id, f"unknown sender {sender_id}"), _name(func)))
        if rows or _ours(name):
            wiring[name] = sorted(rows)
    return wiring


def test_every_signal_receiver_in_the_project_is_the_expected_one():
    assert _wiring() == EXPECTED_RECEIVERS


def test_every_inbox_handler_is_the_expected_one():
    handlers = {p: _name(h) for p, h in inbox.registered_handlers().items()}
    assert handlers == EXPECTED_HANDLERS


def test_the_wiring_list_finds_a_receiver_it_was_not_told_about():
    """The derivation is not a hard-coded list: a new receiver shows up in it."""
    from crm import signals

    def audit_on_website_status_changed(sender, **kwargs):
        pass

    audit_on_website_status_changed.__module__ = "crm.audit"
    signals.website_status_changed.connect(audit_on_website_status_changed, weak=False)
    try:
        assert _wiring()["crm.signals.website_status_changed"] == [
            (
                "any",
                "crm.audit.test_the_wiring_list_finds_a_receiver_it_was_not_told_about."
                "<locals>.audit_on_website_status_changed",
            ),
        ]
    finally:
        signals.website_status_changed.disconnect(audit_on_website_status_changed)


@pytest.mark.parametrize("kind", ["tracking", "inbound"])
def test_anymail_ses_urls_are_our_body_checked_views(kind):
    """webmagic/urls.py mounts campaigns' SNS body check over anymail's own SES views."""
    from campaigns import webhooks

    view = {"tracking": webhooks.ses_tracking, "inbound": webhooks.ses_inbound}[kind]
    assert resolve(f"/anymail/amazon_ses/{kind}/").func is view
    # anymail's own URL for another ESP is still anymail's.
    assert resolve("/anymail/postmark/tracking/").func.__module__.startswith("anymail.")


def test_every_task_named_by_path_resolves():
    """django-q2 tasks are named by dotted path (async_task, Schedule.func): each one the
    code or its migrations name is a function that exists."""
    app_names = "|".join(PROJECT_APPS)
    pattern = re.compile(rf"""["']((?:{app_names})\.tasks\.\w+)["']""")
    names = set()
    for app in PROJECT_APPS:
        for path in (ROOT / app).rglob("*.py"):
            names.update(pattern.findall(path.read_text()))
    assert names  # the scan found the ones there are
    for name in sorted(names):
        assert callable(import_string(name)), name
