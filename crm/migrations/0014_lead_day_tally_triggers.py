"""Triggers that keep crm_leaddaytally (leads reaching each funnel stage, per UTC day) true
for every write to crm_business, and a backfill of what exists.

PostgreSQL: statement-level triggers with transition tables (a bulk import adds a few rows).
SQLite: row-level triggers. A lead deleted or moved back loses its stages on the day of its
last status change (the days it reached each stage are not kept per lead).
"""

from django.db import migrations

# Frozen here (a migration must not change when app code does): the SQL as crm.tallies
# built it when this migration was written. `{t}` is the row alias.
# A lead's engagement rank (0–6), from crm.lifecycle.ENGAGEMENT_RANK.
RANK = (
    "(CASE {t}.furthest_contact_status WHEN 'emailed' THEN 1 WHEN 'texted' THEN 1 "
    "WHEN 'opened' THEN 2 WHEN 'clicked' THEN 3 WHEN 'replied' THEN 4 WHEN 'interested' THEN 5 "
    "WHEN 'purchased' THEN 6 ELSE 0 END)"
)
# Whether the lead has a generated site.
SITE = "{t}.website_status IN ('generated', 'deployed', 'sold')"
SQLITE_RANKS = (
    "(SELECT 1 AS n UNION ALL SELECT 2 AS n UNION ALL SELECT 3 AS n UNION ALL SELECT 4 AS n "
    "UNION ALL SELECT 5 AS n UNION ALL SELECT 6 AS n)"
)
# The backfill of what exists: every lead's stages dated by its last status change.
DAY_BACKFILL = {
    "postgresql": (
        "INSERT INTO crm_leaddaytally (day, field, value, delta) SELECT d, f, v, count(*) FROM ("
        "SELECT (b.created_at AT TIME ZONE 'UTC')::date AS d, 'created' AS f, "
        "b.qualification_score::text AS v FROM crm_business b "
        "UNION ALL SELECT (b.contact_status_changed_at AT TIME ZONE 'UTC')::date, 'reached', "
        f"r::text FROM crm_business b, generate_series(1, {RANK.format(t='b')}) AS r "
        "UNION ALL SELECT (b.website_status_changed_at AT TIME ZONE 'UTC')::date, 'site', "
        f"'generated' FROM crm_business b WHERE {SITE.format(t='b')}"
        ") x GROUP BY d, f, v"
    ),
    "sqlite": (
        "INSERT INTO crm_leaddaytally (day, field, value, delta) SELECT d, f, v, count(*) FROM ("
        "SELECT date(b.created_at) AS d, 'created' AS f, CAST(b.qualification_score AS TEXT) "
        "AS v FROM crm_business b "
        "UNION ALL SELECT date(b.contact_status_changed_at), 'reached', CAST(r.n AS TEXT) "
        f"FROM crm_business b JOIN {SQLITE_RANKS} r ON r.n <= {RANK.format(t='b')} "
        "UNION ALL SELECT date(b.website_status_changed_at), 'site', 'generated' "
        f"FROM crm_business b WHERE {SITE.format(t='b')}"
        ") GROUP BY d, f, v"
    ),
}


def _pg_day(t: str, column: str) -> str:
    return f"({t}.{column} AT TIME ZONE 'UTC')::date"


def _pg_rows(t: str, sign: str) -> str:
    """Every stage row of the leads in transition table `t`, counted `sign`1."""
    return (
        f"SELECT {_pg_day(t, 'created_at')} AS d, 'created' AS f, "
        f"{t}.qualification_score::text AS v, {sign}1 AS n FROM {t} "
        f"UNION ALL SELECT {_pg_day(t, 'contact_status_changed_at')}, 'reached', r::text, "
        f"{sign}1 FROM {t}, generate_series(1, {RANK.format(t=t)}) AS r "
        f"UNION ALL SELECT {_pg_day(t, 'website_status_changed_at')}, 'site', 'generated', "
        f"{sign}1 FROM {t} WHERE {SITE.format(t=t)}"
    )


PG_UPDATE_ROWS = f"""
  SELECT {_pg_day("o", "created_at")} AS d, 'created' AS f, o.qualification_score::text AS v,
         -1 AS n
    FROM old_rows o JOIN new_rows w ON w.id = o.id
   WHERE o.qualification_score <> w.qualification_score OR o.created_at <> w.created_at
  UNION ALL
  SELECT {_pg_day("w", "created_at")}, 'created', w.qualification_score::text, 1
    FROM old_rows o JOIN new_rows w ON w.id = o.id
   WHERE o.qualification_score <> w.qualification_score OR o.created_at <> w.created_at
  UNION ALL
  SELECT {_pg_day("w", "contact_status_changed_at")}, 'reached', r::text, 1
    FROM old_rows o JOIN new_rows w ON w.id = o.id,
         generate_series({RANK.format(t="o")} + 1, {RANK.format(t="w")}) AS r
  UNION ALL
  SELECT {_pg_day("o", "contact_status_changed_at")}, 'reached', r::text, -1
    FROM old_rows o JOIN new_rows w ON w.id = o.id,
         generate_series({RANK.format(t="w")} + 1, {RANK.format(t="o")}) AS r
  UNION ALL
  SELECT {_pg_day("w", "website_status_changed_at")}, 'site', 'generated', 1
    FROM old_rows o JOIN new_rows w ON w.id = o.id
   WHERE {SITE.format(t="w")} AND NOT {SITE.format(t="o")}
  UNION ALL
  SELECT {_pg_day("o", "website_status_changed_at")}, 'site', 'generated', -1
    FROM old_rows o JOIN new_rows w ON w.id = o.id
   WHERE {SITE.format(t="o")} AND NOT {SITE.format(t="w")}
"""

PG_CREATE = f"""
CREATE OR REPLACE FUNCTION crm_lead_day_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO crm_leaddaytally (day, field, value, delta)
      SELECT d, f, v, sum(n) FROM ({_pg_rows("new_rows", "+")}) x GROUP BY d, f, v;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO crm_leaddaytally (day, field, value, delta)
      SELECT d, f, v, sum(n) FROM ({_pg_rows("old_rows", "-")}) x GROUP BY d, f, v;
  ELSE
    INSERT INTO crm_leaddaytally (day, field, value, delta)
      SELECT d, f, v, sum(n) FROM ({PG_UPDATE_ROWS}) x GROUP BY d, f, v HAVING sum(n) <> 0;
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION crm_lead_day_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM crm_leaddaytally;
  RETURN NULL;
END $$;
CREATE TRIGGER crm_lead_day_tally_ins AFTER INSERT ON crm_business
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_lead_day_tally();
CREATE TRIGGER crm_lead_day_tally_upd AFTER UPDATE ON crm_business
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION crm_lead_day_tally();
CREATE TRIGGER crm_lead_day_tally_del AFTER DELETE ON crm_business
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_lead_day_tally();
CREATE TRIGGER crm_lead_day_tally_trunc AFTER TRUNCATE ON crm_business
  FOR EACH STATEMENT EXECUTE FUNCTION crm_lead_day_tally_truncate();
"""

PG_DROP = """
DROP TRIGGER IF EXISTS crm_lead_day_tally_ins ON crm_business;
DROP TRIGGER IF EXISTS crm_lead_day_tally_upd ON crm_business;
DROP TRIGGER IF EXISTS crm_lead_day_tally_del ON crm_business;
DROP TRIGGER IF EXISTS crm_lead_day_tally_trunc ON crm_business;
DROP FUNCTION IF EXISTS crm_lead_day_tally();
DROP FUNCTION IF EXISTS crm_lead_day_tally_truncate();
"""

def _sqlite_rows(t: str, sign: str) -> str:
    return (
        f"SELECT date({t}.created_at), 'created', CAST({t}.qualification_score AS TEXT), {sign}1 "
        f"UNION ALL SELECT date({t}.contact_status_changed_at), 'reached', CAST(r.n AS TEXT), "
        f"{sign}1 FROM {SQLITE_RANKS} r WHERE r.n <= {RANK.format(t=t)} "
        f"UNION ALL SELECT date({t}.website_status_changed_at), 'site', 'generated', {sign}1 "
        f"WHERE {SITE.format(t=t)}"
    )


SQLITE_UPDATE_ROWS = (
    "SELECT date(OLD.created_at), 'created', CAST(OLD.qualification_score AS TEXT), -1 "
    "WHERE OLD.qualification_score IS NOT NEW.qualification_score "
    "OR OLD.created_at IS NOT NEW.created_at "
    "UNION ALL SELECT date(NEW.created_at), 'created', CAST(NEW.qualification_score AS TEXT), 1 "
    "WHERE OLD.qualification_score IS NOT NEW.qualification_score "
    "OR OLD.created_at IS NOT NEW.created_at "
    "UNION ALL SELECT date(NEW.contact_status_changed_at), 'reached', CAST(r.n AS TEXT), 1 "
    f"FROM {SQLITE_RANKS} r WHERE r.n > {RANK.format(t='OLD')} AND r.n <= {RANK.format(t='NEW')} "
    "UNION ALL SELECT date(OLD.contact_status_changed_at), 'reached', CAST(r.n AS TEXT), -1 "
    f"FROM {SQLITE_RANKS} r WHERE r.n > {RANK.format(t='NEW')} AND r.n <= {RANK.format(t='OLD')} "
    "UNION ALL SELECT date(NEW.website_status_changed_at), 'site', 'generated', 1 "
    f"WHERE {SITE.format(t='NEW')} AND NOT {SITE.format(t='OLD')} "
    "UNION ALL SELECT date(OLD.website_status_changed_at), 'site', 'generated', -1 "
    f"WHERE {SITE.format(t='OLD')} AND NOT {SITE.format(t='NEW')}"
)

SQLITE_CREATE = [
    "CREATE TRIGGER crm_lead_day_tally_ins AFTER INSERT ON crm_business BEGIN "
    f"INSERT INTO crm_leaddaytally (day, field, value, delta) {_sqlite_rows('NEW', '+')}; END",
    "CREATE TRIGGER crm_lead_day_tally_del AFTER DELETE ON crm_business BEGIN "
    f"INSERT INTO crm_leaddaytally (day, field, value, delta) {_sqlite_rows('OLD', '-')}; END",
    "CREATE TRIGGER crm_lead_day_tally_upd AFTER UPDATE OF furthest_contact_status, "
    "website_status, qualification_score, created_at ON crm_business BEGIN "
    f"INSERT INTO crm_leaddaytally (day, field, value, delta) {SQLITE_UPDATE_ROWS}; END",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS crm_lead_day_tally_{op}" for op in ("ins", "del", "upd")]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute(PG_CREATE)
        elif vendor == "sqlite":
            for statement in SQLITE_CREATE:
                cursor.execute(statement)
        else:
            raise RuntimeError(f"no lead day-tally triggers for {vendor}")
        cursor.execute("DELETE FROM crm_leaddaytally")
        cursor.execute(DAY_BACKFILL[vendor])


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        for statement in [PG_DROP] if vendor == "postgresql" else SQLITE_DROP:
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("crm", "0013_lead_day_tally")]
    operations = [migrations.RunPython(forwards, backwards)]
