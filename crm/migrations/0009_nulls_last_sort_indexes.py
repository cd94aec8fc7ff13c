"""PostgreSQL: rating and last-contacted sort indexes with NULL as the lowest value
(DESC NULLS LAST), matching the lead table's order so sorting by them is an index scan
instead of a sort of a million rows.

The model state keeps the plain `-field, -id` index: SQLite cannot write NULLS LAST in an
index (and sorts NULL lowest anyway), and a table rebuild there must not emit it."""

from django.db import migrations

INDEXES = (
    ("biz_rating", "rating"),
    ("biz_last_contacted", "last_contacted_at"),
)


def nulls_last(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
        schema_editor.execute(
            f'CREATE INDEX "{name}" ON "crm_business" ("{column}" DESC NULLS LAST, "id" DESC)'
        )


def nulls_first(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
        schema_editor.execute(f'CREATE INDEX "{name}" ON "crm_business" ("{column}" DESC, "id" DESC)')


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0008_case_insensitive_filter_indexes"),
    ]

    operations = [migrations.RunPython(nulls_last, nulls_first)]
