"""django-q2 task functions of billing."""

from billing.services import checkouts_expire as _checkouts_expire


def checkouts_expire() -> int:
    """Mark stale open checkouts abandoned (scheduled every 10 minutes)."""
    return _checkouts_expire()
