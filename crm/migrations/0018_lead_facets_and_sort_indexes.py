"""What the lead table needs to answer any sidebar combination in milliseconds at a million
leads (bench/README.md, "random sidebar combinations"):

- `has_email`, a stored generated column, so the planner's joint statistics can include
  "has an email" (they cannot match the clause `email = ''` to an expression): it then knows
  that no lead without an email has opened one, instead of expecting 46,000 and walking the
  rating index through every lead looking for them (2.7 s);
- those statistics (biz_status_stats) rebuilt on the three statuses and `has_email`;
- biz_facets, the statuses and `has_email` in one index, where such empty or small
  combinations are a few index pages;
- "last contacted" indexes per status column (read one value at a time, crm.queries) and
  for `has_email`, and "best score without an email": the sorts whose first leads are all
  of the other kind.

On PostgreSQL the last-contacted indexes are DESC NULLS LAST, the lead table's order
(NULL is the lowest value, as in migration 0009); SQLite cannot write that in an index.

Adding the generated column rewrites crm_business: about 1–2 minutes at a million leads,
during which the table is locked.
"""

from django.conf import settings
from django.db import migrations, models

CONTACTED_INDEXES = (
    ("biz_status_contacted", "contact_status"),
    ("biz_web_contacted", "website_status"),
    ("biz_furthest_contacted", "furthest_contact_status"),
    ("biz_email_contacted", "has_email"),
)


HAS_EMAIL = migrations.AddField(
    model_name="business",
    name="has_email",
    field=models.GeneratedField(
        db_persist=True,
        expression=models.Q(("email", ""), _negated=True),
        output_field=models.BooleanField(),
    ),
)


def _keeping_sqlite_triggers(apps, schema_editor, operation):
    """Run `operation` (the column's AddField, forwards or backwards). SQLite cannot add a
    stored column in place: Django rebuilds the table, and the rebuild drops the table's
    triggers (the lead tallies', migrations 0007 and 0014), so those are written again."""

    def triggers() -> dict[str, str]:
        if schema_editor.connection.vendor != "sqlite":
            return {}
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                ["crm_business"],
            )
            return dict(cursor.fetchall())

    before = triggers()
    operation()
    after = triggers()
    for name, sql in before.items():
        if name not in after:
            schema_editor.execute(sql)


def has_email_add(apps, schema_editor):
    state = migrations.state.ProjectState.from_apps(apps)
    after = state.clone()
    HAS_EMAIL.state_forwards("crm", after)

    def add():
        HAS_EMAIL.database_forwards("crm", schema_editor, state, after)

    _keeping_sqlite_triggers(apps, schema_editor, add)


def has_email_remove(apps, schema_editor):
    state = migrations.state.ProjectState.from_apps(apps)
    before = state.clone()
    HAS_EMAIL.state_forwards("crm", before)

    def remove():
        HAS_EMAIL.database_backwards("crm", schema_editor, before, state)

    _keeping_sqlite_triggers(apps, schema_editor, remove)


def postgres_forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in CONTACTED_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
        schema_editor.execute(
            f'CREATE INDEX "{name}" ON "crm_business" '
            f'("{column}", "last_contacted_at" DESC NULLS LAST, "id" DESC)'
        )
    schema_editor.execute("DROP STATISTICS IF EXISTS biz_status_stats")
    schema_editor.execute(
        "CREATE STATISTICS biz_status_stats (mcv, dependencies) ON contact_status,"
        " website_status, furthest_contact_status, has_email FROM crm_business"
    )
    # A sample of 300,000 leads (1,000 × 300): with 90,000 (migration 0016) the rarer of the
    # ~30 combinations that occur were left out of the list, so every absent one looked
    # merely rare (378 leads expected where there are none). ANALYZE of crm_business takes
    # about 30 s at a million leads because of it.
    schema_editor.execute("ALTER STATISTICS biz_status_stats SET STATISTICS 1000")
    schema_editor.execute("ANALYZE crm_business")


def postgres_backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP STATISTICS IF EXISTS biz_status_stats")
    schema_editor.execute(
        "CREATE STATISTICS biz_status_stats (mcv, dependencies) ON contact_status,"
        " website_status, furthest_contact_status, (email = '') FROM crm_business"
    )
    schema_editor.execute("ALTER STATISTICS biz_status_stats SET STATISTICS 300")


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0017_sales_role_permission"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Backwards this runs last: migration 0016's statistics, once has_email is gone.
        migrations.RunPython(migrations.RunPython.noop, postgres_backwards),
        migrations.SeparateDatabaseAndState(
            state_operations=[HAS_EMAIL],
            database_operations=[migrations.RunPython(has_email_add, has_email_remove)],
        ),
        migrations.AddIndex(
            model_name="business",
            index=models.Index(
                fields=["contact_status", "has_email", "website_status", "furthest_contact_status"],
                name="biz_facets",
            ),
        ),
        migrations.AddIndex(
            model_name="business",
            index=models.Index(
                models.F("contact_status"),
                models.OrderBy(models.F("last_contacted_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                name="biz_status_contacted",
            ),
        ),
        migrations.AddIndex(
            model_name="business",
            index=models.Index(
                models.F("website_status"),
                models.OrderBy(models.F("last_contacted_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                name="biz_web_contacted",
            ),
        ),
        migrations.AddIndex(
            model_name="business",
            index=models.Index(
                models.F("furthest_contact_status"),
                models.OrderBy(models.F("last_contacted_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                name="biz_furthest_contacted",
            ),
        ),
        migrations.AddIndex(
            model_name="business",
            index=models.Index(
                models.F("has_email"),
                models.OrderBy(models.F("last_contacted_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                name="biz_email_contacted",
            ),
        ),
        migrations.AddIndex(
            model_name="business",
            index=models.Index(
                fields=["has_email", "-qualification_score", "-id"], name="biz_email_score"
            ),
        ),
        migrations.RunPython(postgres_forwards, migrations.RunPython.noop),
    ]
