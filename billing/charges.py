"""What one purchase produces: the payment shape shared by the Recurrente webhook, the
sandbox backend and seed_demo (README "Payments").

A checkout sells a one-time setup fee and a monthly subscription. Recurrente charges both
in **one** payment when the prospect pays — one `payment_intent.succeeded` whose amount is
the setup fee plus the first month and whose `payment.paymentable` is the new subscription
(provider-samples/recurrente_payment_intent_succeeded.json) — then one payment per renewal
for the period's price. So a purchase is:

- one Payment of kind `setup` ("Purchase"): setup fee + first period, linked to the
  checkout, the subscription, the customer and the lead;
- one Subscription (its amount is the period's price), linked to the checkout;
- one Payment of kind `subscription` ("Renewal") per renewal, linked to the subscription
  (its checkout is reached through it), each an interval after the previous one.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from billing.models import BillingInterval, PaymentKind


def add_interval(at: datetime, interval: str, count: int = 1) -> datetime:
    """`at` plus whole billing intervals, month ends clamped (Jan 31 + 1 month = Feb 28)."""
    if interval == BillingInterval.WEEK:
        return at + timedelta(weeks=count)
    months = count * (12 if interval == BillingInterval.YEAR else 1)
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def charge_kind(*, pays_checkout: bool) -> str:
    """A payment that pays our checkout is the purchase; any later one is a renewal."""
    return PaymentKind.SETUP if pays_checkout else PaymentKind.SUBSCRIPTION


@dataclass(frozen=True)
class Charge:
    at: datetime
    amount_cents: int
    currency: str
    kind: str
    pays_checkout: bool


def purchase_charges(
    *,
    setup_fee_cents: int,
    period_cents: int,
    currency: str,
    paid_at: datetime,
    until: datetime | None = None,
    interval: str = BillingInterval.MONTH,
) -> list[Charge]:
    """The charges of one purchase paid at `paid_at`: the purchase itself, then every
    renewal due up to `until` (none without it)."""
    charges = [
        Charge(
            at=paid_at,
            amount_cents=setup_fee_cents + period_cents,
            currency=currency,
            kind=charge_kind(pays_checkout=True),
            pays_checkout=True,
        )
    ]
    n = 1
    while until is not None and (due := add_interval(paid_at, interval, n)) <= until:
        charges.append(
            Charge(
                at=due,
                amount_cents=period_cents,
                currency=currency,
                kind=charge_kind(pays_checkout=False),
                pays_checkout=False,
            )
        )
        n += 1
    return charges
