"""The CRM's public events. Sent only by crm.lifecycle, only after commit.

Receivers live in the downstream apps' `receivers.py` and only do things that may happen a
moment later (cancel queued messages, refresh a counter). Anything that must be atomic with
the change is an explicit call instead.

Both signals send: business (Business), old (str), new (str), source (str).
"""

from django.dispatch import Signal

contact_status_changed = Signal()
website_status_changed = Signal()
