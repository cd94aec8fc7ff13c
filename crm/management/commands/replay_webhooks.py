from django.core.management.base import BaseCommand, CommandError

from crm import inbox
from crm.models import Provider, ProviderEventStatus


class Command(BaseCommand):
    help = (
        "Reprocess stored provider events from the inbox (crm.ProviderEvent). By default every "
        "event not yet processed; --failed only failed and unmatched ones; --all also re-applies "
        "processed events (handlers are idempotent). Prints a summary per outcome."
    )

    def add_arguments(self, parser):
        parser.add_argument("--provider", choices=Provider.values, help="only this provider")
        parser.add_argument(
            "--failed", action="store_true", help="only events that failed or are unmatched"
        )
        parser.add_argument(
            "--all", action="store_true", help="also re-apply events already processed"
        )
        parser.add_argument("--id", type=int, action="append", help="only this event id")

    def handle(self, *args, provider=None, failed=False, all=False, id=None, **options):
        if failed and all:
            raise CommandError("--failed and --all cannot be combined")
        qs = inbox.replayable(provider=provider, failed_only=failed)
        if id:
            qs = qs.filter(pk__in=id)
            missing = set(id) - set(qs.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"no inbox event with id {sorted(missing)}")
        elif not all and not failed:
            qs = qs.exclude(status__in=[ProviderEventStatus.PROCESSED, ProviderEventStatus.IGNORED])
        totals: dict[str, int] = {}
        for pk in qs.values_list("pk", flat=True).iterator():
            event = inbox.replay(pk, force=all or bool(id))
            totals[event.status] = totals.get(event.status, 0) + 1
            if event.status == ProviderEventStatus.FAILED:
                self.stderr.write(f"event {event.pk} ({event}) failed: {event.error}")
        summary = ", ".join(f"{n} {status}" for status, n in sorted(totals.items())) or "nothing"
        self.stdout.write(f"Replayed {sum(totals.values())} event(s): {summary}.")
