"""Mark checkouts left unpaid for CHECKOUT_ABANDON_MINUTES as abandoned (also scheduled)."""

from django.core.management.base import BaseCommand

from billing.services import checkouts_expire


class Command(BaseCommand):
    help = (
        "Mark open checkouts older than CHECKOUT_ABANDON_MINUTES abandoned, add a timeline "
        "line each and, with CHECKOUT_REMINDER_EMAIL=1, send one reminder email. Safe to rerun."
    )

    def handle(self, *args, **options) -> None:
        count = checkouts_expire()
        self.stdout.write(f"{count} checkout(s) marked abandoned")
