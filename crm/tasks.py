"""django-q2 task functions of the CRM."""

from crm import inbox


def inbox_retry_due() -> int:
    """Retry unmatched provider events whose next attempt is due (scheduled every minute)."""
    return inbox.retry_due()


def tally_compact() -> int:
    """Fold the lead-count delta rows (scheduled every minute)."""
    from crm.tallies import tally_compact as compact

    return compact()
