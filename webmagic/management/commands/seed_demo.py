import time
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from webmagic.demo import demo_build, demo_counts, demo_world_exists


def _when(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--now {value!r} is not an ISO date-time") from None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = (
        "Build a demo world: leads across categories and US cities, scored with crm.scoring, "
        "preview sites, email and SMS campaigns (one still sending) with their messages and "
        "replies, opt-outs and bounces on the suppression list, checkouts, purchases "
        "(customer, subscription, payments in USD and GTQ), timelines, and the orphaned "
        "'la-plumbing-pros' site for link_orphan_sites. Statuses are the ones the lifecycle "
        "would have produced. On a database that already has leads, sites or campaigns it "
        "says so and writes nothing (exit 0); --reset first deletes the whole CRM world "
        "(leads, sites, campaigns, messages, suppressions, billing rows, provider events, "
        "import batches; user accounts stay). Leads are owned by demo staff users "
        "(maria.garcia, james.chen, priya.patel in group sales, tom.baker in viewer; no "
        "usable password), created when missing. The same --seed and --now give the same "
        "world. All in one transaction: nothing half-written."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--leads", type=int, default=2000, help="number of leads (default 2000)"
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="random seed: same seed, same world (default 1)"
        )
        parser.add_argument(
            "--reset", action="store_true", help="delete the existing CRM world first"
        )
        parser.add_argument(
            "--now",
            type=_when,
            default=None,
            help="anchor time of the world (ISO date-time; default: now). Dates spread "
            "over the 120 days before it.",
        )

    def handle(self, *args, leads: int, seed: int, reset: bool, now, **options):
        if leads < 0:
            raise CommandError("--leads must be 0 or more")
        if not reset and demo_world_exists():
            counts = demo_counts()
            self.stdout.write(
                f"The database already has a world ({counts['crm.Business']:,} leads, "
                f"{counts['sites.Site']:,} sites, {counts['campaigns.Campaign']:,} campaigns): "
                "nothing written. Use --reset to delete it and build a new one."
            )
            return
        started = time.monotonic()
        self.stdout.write(f"Building a demo world of {leads:,} leads (seed {seed}) …")
        counts = demo_build(
            leads=leads, seed=seed, now=now, reset=reset, log=lambda line: self.stdout.write(line)
        )
        width = max(len(label) for label in counts)
        for label, count in counts.items():
            self.stdout.write(f"  {label:<{width}}  {count:>12,}")
        self.stdout.write(
            self.style.SUCCESS(f"Demo world ready in {time.monotonic() - started:.1f}s.")
        )
