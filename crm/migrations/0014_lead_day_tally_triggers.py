"""Triggers that keep crm_leaddaytally (leads reaching each funnel stage, per UTC day) true
for every write to crm_business, and a backfill of what exists.

PostgreSQL: statement-level triggers with transition tables (a bulk import adds a few rows).
SQLite: row-level triggers. The statements live in crm/sql.py; migration 0017 recreates them
counting days in CRM_TIME_ZONE instead of UTC.
"""

from django.db import migrations

from crm.sql import (
    PG_DAY_TALLY_DROP,
    SQLITE_DAY_TALLY_DROP,
    day_tally_backfill,
    day_tally_triggers,
    utc_day,
)


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    day = utc_day(vendor)
    with schema_editor.connection.cursor() as cursor:
        for statement in day_tally_triggers(vendor, day):
            cursor.execute(statement)
        cursor.execute("DELETE FROM crm_leaddaytally")
        cursor.execute(day_tally_backfill(vendor, day))


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        for statement in [PG_DAY_TALLY_DROP] if vendor == "postgresql" else SQLITE_DAY_TALLY_DROP:
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("crm", "0013_lead_day_tally")]
    operations = [migrations.RunPython(forwards, backwards)]
