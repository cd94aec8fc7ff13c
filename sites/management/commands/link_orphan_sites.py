from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from sites.models import Site
from sites.orphans import OrphanOutcome, OrphanSummary, sites_link_orphans


class Command(BaseCommand):
    help = (
        "Give every site without a business its business. The lead is found from the site's "
        "content by the dedupe order (place id, phone, website domain, name + city) or created "
        "(source 'orphan_site'); the site is linked, the lead's website status set from the "
        "site's status (preview → generated, active/suspended/cancelled → sold, archived → "
        "archived) and both are written on the lead's timeline. Safe to run twice: linked sites "
        "are not orphans any more."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="report what would happen and write nothing",
        )
        parser.add_argument(
            "--slug",
            action="append",
            dest="slugs",
            metavar="SLUG",
            help="only this site (repeatable); an unknown slug is an error",
        )

    def handle(self, *args, dry_run: bool = False, slugs: list[str] | None = None, **options):
        pre: list[OrphanOutcome] = []
        if slugs:
            known = dict(Site.objects.filter(slug__in=slugs).values_list("slug", "business_id"))
            unknown = [s for s in slugs if s not in known]
            if unknown:
                raise CommandError(f"no site with slug {', '.join(unknown)}")
            pre = [
                OrphanOutcome(s, "skipped", reason="already has a business")
                for s in dict.fromkeys(slugs)
                if known[s] is not None
            ]
        if dry_run:
            with transaction.atomic():
                summary = sites_link_orphans(slugs=slugs)
                transaction.set_rollback(True)
        else:
            summary = sites_link_orphans(slugs=slugs)
        summary.outcomes[:0] = pre
        self._report(summary, dry_run)

    def _report(self, summary: OrphanSummary, dry_run: bool) -> None:
        prefix = "[dry run] would have " if dry_run else ""
        for o in summary.outcomes:
            if o.action == "linked":
                self.stdout.write(
                    f"{prefix}linked {o.slug} → lead #{o.business_id} {o.business_name!r} "
                    f"(matched by {o.matched_by})"
                )
            elif o.action == "created":
                lead = (
                    f"lead {o.business_name!r}"
                    if dry_run
                    else f"lead #{o.business_id} {o.business_name!r}"
                )
                self.stdout.write(f"{prefix}created {lead} for {o.slug}")
            else:
                self.stdout.write(f"skipped {o.slug}: {o.reason}")
        linked, created = summary.count("linked"), summary.count("created")
        skipped = summary.count("skipped")
        if not summary.outcomes:
            self.stdout.write("No orphan sites: every site has its business.")
        line = (
            f"{'Dry run, nothing written. ' if dry_run else ''}"
            f"Linked to existing leads: {linked}, leads created: {created}, skipped: {skipped}."
        )
        self.stdout.write(self.style.SUCCESS(line) if not skipped else self.style.WARNING(line))
