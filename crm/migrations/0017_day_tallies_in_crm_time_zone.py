"""Count the day tallies' days in CRM_TIME_ZONE instead of UTC, so a period funnel ("Today",
"This week") starts at the business's midnight: the zone row the triggers read, the
PostgreSQL day function, the triggers recreated with it, and a recount.

SQLite has no time zones: its triggers call crm_tally_day(), a function crm.tallies
registers on every SQLite connection."""

from django.conf import settings
from django.db import migrations, models

from crm.sql import (
    PG_TALLY_DAY_DROP,
    PG_TALLY_DAY_FUNCTION,
    day_tally_backfill,
    day_tally_triggers,
    utc_day,
    zone_day,
)


def _recount(cursor, vendor, day):
    for statement in day_tally_triggers(vendor, day):
        cursor.execute(statement)
    cursor.execute("DELETE FROM crm_leaddaytally")
    cursor.execute(day_tally_backfill(vendor, day))


def forwards(apps, schema_editor):
    apps.get_model("crm", "TallyZone").objects.update_or_create(
        pk=1, defaults={"zone": settings.CRM_TIME_ZONE}
    )
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute(PG_TALLY_DAY_FUNCTION)
        _recount(cursor, vendor, zone_day(vendor))


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        _recount(cursor, vendor, utc_day(vendor))
        if vendor == "postgresql":
            cursor.execute(PG_TALLY_DAY_DROP)


class Migration(migrations.Migration):
    dependencies = [("crm", "0016_city_sort_indexes_status_statistics")]

    operations = [
        migrations.CreateModel(
            name="TallyZone",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("zone", models.CharField(default="UTC", max_length=64)),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
