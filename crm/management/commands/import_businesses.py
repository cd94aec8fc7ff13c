"""import_businesses FILE: load scraped businesses (Outscraper, Apify, Google Places, CSV)."""

from django.core.management.base import BaseCommand, CommandError

from crm.importers import FORMATS, ImportFailed, import_file

SHOW_SKIPPED = 20


class Command(BaseCommand):
    help = (
        "Import scraped businesses from FILE: Outscraper Google Maps CSV/JSON, Apify Google "
        "Maps JSON, Google Places API (New) JSON, or a CSV with the Business field names. "
        "The format is detected when --format is absent. Rows are upserted with the dedupe "
        "order gmb_place_id, phone, own-website domain, name+city; statuses are never "
        "changed; each raw row is kept in ImportRecord. A bad row aborts the whole import "
        "(nothing written) unless --skip-bad-rows. An invalid email or phone is dropped from its "
        "row (the row is imported without it) and listed. A file that is not UTF-8 is read in "
        "the encoding detected from its bytes, and the report names it; rows of a UTF-8 file "
        "that hold undecodable bytes are bad rows."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the export file")
        parser.add_argument("--format", choices=FORMATS, help="skip detection")
        parser.add_argument("--dry-run", action="store_true", help="report only; write nothing")
        parser.add_argument(
            "--skip-bad-rows", action="store_true", help="skip broken rows with their reason"
        )
        parser.add_argument("--source", help="Business.source for new leads (default: format)")

    def handle(self, *args, **opts):
        try:
            report = import_file(
                opts["file"],
                fmt=opts["format"],
                dry_run=opts["dry_run"],
                skip_bad_rows=opts["skip_bad_rows"],
                source=opts["source"],
            )
        except ImportFailed as exc:
            raise CommandError(str(exc)) from None
        prefix = "DRY RUN (nothing written): " if report.dry_run else ""
        if report.encoding_detected:
            self.stdout.write(f"The file is not UTF-8: read as {report.encoding} (detected).")
        self.stdout.write(
            f"{prefix}{report.rows} rows ({report.format}): created {report.created}, "
            f"updated {report.updated}, unchanged {report.unchanged}, "
            f"skipped {len(report.skipped)}"
            + (f" [batch {report.batch_id}]" if report.batch_id else "")
        )
        for number, reason in report.skipped[:SHOW_SKIPPED]:
            self.stdout.write(f"  skipped row {number}: {reason}")
        if len(report.skipped) > SHOW_SKIPPED:
            self.stdout.write(
                f"  … and {len(report.skipped) - SHOW_SKIPPED} more (see ImportRecord)"
            )
        if report.blank_rows:
            self.stdout.write(f"  {report.blank_rows} empty row(s) ignored")
        for number, note in report.dropped[:SHOW_SKIPPED]:
            self.stdout.write(f"  row {number}: {note}")
        if len(report.dropped) > SHOW_SKIPPED:
            self.stdout.write(
                f"  … and {len(report.dropped) - SHOW_SKIPPED} more dropped values "
                "(see ImportRecord)"
            )
