"""Triggers that keep crm_leadtally true for every write to crm_business, whatever writes it
(lifecycle, imports through COPY, bulk updates, raw SQL), a backfill of what exists, and the
django-q2 schedule that compacts the delta rows.

PostgreSQL: statement-level triggers with transition tables, so a 100,000-row import adds a
handful of rows, not 100,000 upserts. SQLite: row-level triggers (one writer at a time).
"""

from django.db import migrations

FIELDS = ("contact_status", "furthest_contact_status", "website_status", "qualification_score")


def _select(alias: str, sign: str) -> str:
    return " UNION ALL ".join(
        f"SELECT '{f}' AS f, {alias}.{f}::text AS v, {sign}1 AS d FROM {alias}" for f in FIELDS
    )


PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION crm_lead_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO crm_leadtally (field, value, delta)
      SELECT f, v, sum(d) FROM ({_select("new_rows", "+")}) x GROUP BY f, v;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO crm_leadtally (field, value, delta)
      SELECT f, v, sum(d) FROM ({_select("old_rows", "-")}) x GROUP BY f, v;
  ELSE
    INSERT INTO crm_leadtally (field, value, delta)
      SELECT f, v, sum(d) FROM ({_select("new_rows", "+")} UNION ALL {_select("old_rows", "-")}) x
      GROUP BY f, v HAVING sum(d) <> 0;
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION crm_lead_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM crm_leadtally;
  RETURN NULL;
END $$;
CREATE TRIGGER crm_lead_tally_ins AFTER INSERT ON crm_business
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_lead_tally();
CREATE TRIGGER crm_lead_tally_upd AFTER UPDATE ON crm_business
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION crm_lead_tally();
CREATE TRIGGER crm_lead_tally_del AFTER DELETE ON crm_business
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_lead_tally();
CREATE TRIGGER crm_lead_tally_trunc AFTER TRUNCATE ON crm_business
  FOR EACH STATEMENT EXECUTE FUNCTION crm_lead_tally_truncate();
"""

PG_DROP = """
DROP TRIGGER IF EXISTS crm_lead_tally_ins ON crm_business;
DROP TRIGGER IF EXISTS crm_lead_tally_upd ON crm_business;
DROP TRIGGER IF EXISTS crm_lead_tally_del ON crm_business;
DROP TRIGGER IF EXISTS crm_lead_tally_trunc ON crm_business;
DROP FUNCTION IF EXISTS crm_lead_tally();
DROP FUNCTION IF EXISTS crm_lead_tally_truncate();
"""


def _sqlite_rows(alias: str, sign: str, only_changed: bool) -> str:
    parts = []
    for f in FIELDS:
        where = f" WHERE OLD.{f} IS NOT NEW.{f}" if only_changed else ""
        parts.append(f"SELECT '{f}', CAST({alias}.{f} AS TEXT), {sign}1{where}")
    return " UNION ALL ".join(parts)


SQLITE_CREATE = [
    "CREATE TRIGGER crm_lead_tally_ins AFTER INSERT ON crm_business BEGIN "
    f"INSERT INTO crm_leadtally (field, value, delta) {_sqlite_rows('NEW', '+', False)}; END",
    "CREATE TRIGGER crm_lead_tally_del AFTER DELETE ON crm_business BEGIN "
    f"INSERT INTO crm_leadtally (field, value, delta) {_sqlite_rows('OLD', '-', False)}; END",
    f"CREATE TRIGGER crm_lead_tally_upd AFTER UPDATE OF {', '.join(FIELDS)} ON crm_business "
    "BEGIN INSERT INTO crm_leadtally (field, value, delta) "
    f"{_sqlite_rows('OLD', '-', True)} UNION ALL {_sqlite_rows('NEW', '+', True)}; END",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS crm_lead_tally_{op}" for op in ("ins", "del", "upd")]

BACKFILL = " UNION ALL ".join(
    f"SELECT '{f}', CAST({f} AS TEXT), COUNT(*) FROM crm_business GROUP BY {f}" for f in FIELDS
)


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute(PG_FUNCTION)
        elif vendor == "sqlite":
            for statement in SQLITE_CREATE:
                cursor.execute(statement)
        else:
            raise RuntimeError(f"no lead-tally triggers for {vendor}")
        cursor.execute("DELETE FROM crm_leadtally")
        cursor.execute(f"INSERT INTO crm_leadtally (field, value, delta) {BACKFILL}")
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name="crm.tally_compact",
        defaults={
            "func": "crm.tasks.tally_compact",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        for statement in [PG_DROP] if vendor == "postgresql" else SQLITE_DROP:
            cursor.execute(statement)
    apps.get_model("django_q", "Schedule").objects.filter(name="crm.tally_compact").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0006_lead_tally"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
