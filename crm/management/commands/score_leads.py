"""score_leads: recompute website_kind and qualification_score for every lead."""

from django.core.management.base import BaseCommand

from crm.importers import rescore


class Command(BaseCommand):
    help = (
        "Recompute qualification_score and score_breakdown (crm.scoring, the one formula) "
        "and re-classify website_kind from website for every lead, in batches. Prints how "
        "many changed, the distribution by 10-point band and how many are qualified."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report only; write nothing")
        parser.add_argument(
            "--only-unscored", action="store_true", help="only leads without a breakdown"
        )

    def handle(self, *args, **opts):
        s = rescore(only_unscored=opts["only_unscored"], dry_run=opts["dry_run"])
        prefix = "DRY RUN (nothing written): " if opts["dry_run"] else ""
        self.stdout.write(f"{prefix}{s['total']} leads scored, {s['changed']} changed")
        for band in sorted(s["bands"], key=lambda b: int(b.split("-")[0])):
            self.stdout.write(f"  {band:>7}: {s['bands'][band]}")
        self.stdout.write(f"qualified (score >= {s['threshold']}): {s['qualified']}")
