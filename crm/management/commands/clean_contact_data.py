"""clean_contact_data: validate the emails and phones already stored, as import does now."""

from django.core.management.base import BaseCommand

from crm.services import businesses_clean_contacts

SHOW = 50


class Command(BaseCommand):
    help = (
        "Check every lead's email (Django's validator; spreadsheet formulas refused) and "
        "phone (phonenumbers, in the lead's country) as they are checked where data enters "
        "now. An invalid value is dropped, a valid phone gets its E.164 form, and the score "
        "is recomputed; each changed lead gets a timeline line. Prints what it changed. Safe "
        "to run twice (the second run changes nothing)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report only; write nothing")

    def handle(self, *args, **opts):
        s = businesses_clean_contacts(dry_run=opts["dry_run"])
        prefix = "DRY RUN (nothing written): " if opts["dry_run"] else ""
        self.stdout.write(f"{prefix}{s.checked} leads checked, {s.changed} leads changed")
        self.stdout.write(
            f"  emails dropped: {s.emails_dropped}, phones dropped: {s.phones_dropped}, "
            f"phones normalised: {s.phones_normalised}"
        )
        for line in s.lines[:SHOW]:
            self.stdout.write(f"  {line}")
        if len(s.lines) > SHOW:
            self.stdout.write(f"  … and {len(s.lines) - SHOW} more (see each lead's timeline)")
