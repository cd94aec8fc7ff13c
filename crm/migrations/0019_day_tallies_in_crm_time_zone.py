"""Count the day tallies' days in CRM_TIME_ZONE instead of UTC, so a period funnel ("Today",
"This week") starts at the business's midnight: the zone row the triggers read, the day
function, the triggers of migration 0014 recreated with it, and a recount.

Every day is `crm_tally_day(ts, (SELECT zone FROM crm_tallyzone WHERE id = 1))` on both
databases. PostgreSQL inlines its SQL function and runs the uncorrelated subquery once per
statement (an InitPlan): the recount of a 100,000-lead world takes 0.41–0.55 s, as the UTC
one does (0.32–0.50 s), where a one-argument function reading the zone itself is not inlined
and took 1.5–1.6 s. SQLite has no time zones: there crm_tally_day is a Python function
crm.tallies registers on every SQLite connection.

Frozen here (a migration must not change when app code does): the SQL as crm.sql built it
when this migration was written; the engagement ranks and the generated-site statuses are
0014's. crm.sql's recount must keep agreeing with DAY_BACKFILL (tests/test_raw_sql.py).
"""

import importlib

from django.conf import settings
from django.db import migrations, models

_0014 = importlib.import_module("crm.migrations.0014_lead_day_tally_triggers")
RANK, SITE, SQLITE_RANKS = _0014.RANK, _0014.SITE, _0014.SQLITE_RANKS

PG_TALLY_DAY_FUNCTION = """
CREATE OR REPLACE FUNCTION crm_tally_day(ts timestamptz, zone text) RETURNS date
LANGUAGE sql STABLE AS $$
  SELECT (ts AT TIME ZONE COALESCE(zone, 'UTC'))::date
$$;
"""
PG_TALLY_DAY_DROP = "DROP FUNCTION IF EXISTS crm_tally_day(timestamptz, text);"


def _day(expr: str) -> str:
    """The day `expr` falls on in the tally zone."""
    return f"crm_tally_day({expr}, (SELECT zone FROM crm_tallyzone WHERE id = 1))"


def _pg_rows(t: str, sign: str) -> str:
    """Every stage row of the leads in transition table `t`, counted `sign`1."""
    return (
        f"SELECT {_day(f'{t}.created_at')} AS d, 'created' AS f, "
        f"{t}.qualification_score::text AS v, {sign}1 AS n FROM {t} "
        f"UNION ALL SELECT {_day(f'{t}.contact_status_changed_at')}, 'reached', r::text, "
        f"{sign}1 FROM {t}, generate_series(1, {RANK.format(t=t)}) AS r "
        f"UNION ALL SELECT {_day(f'{t}.website_status_changed_at')}, 'site', 'generated', "
        f"{sign}1 FROM {t} WHERE {SITE.format(t=t)}"
    )


PG_UPDATE_ROWS = f"""
  SELECT {_day("o.created_at")} AS d, 'created' AS f, o.qualification_score::text AS v,
         -1 AS n
    FROM old_rows o JOIN new_rows w ON w.id = o.id
   WHERE o.qualification_score <> w.qualification_score OR o.created_at <> w.created_at
  UNION ALL
  SELECT {_day("w.created_at")}, 'created', w.qualification_score::text, 1
    FROM old_rows o JOIN new_rows w ON w.id = o.id
   WHERE o.qualification_score <> w.qualification_score OR o.created_at <> w.created_at
  UNION ALL
  SELECT {_day("w.contact_status_changed_at")}, 'reached', r::text, 1
    FROM old_rows o JOIN new_rows w ON w.id = o.id,
         generate_series({RANK.format(t="o")} + 1, {RANK.format(t="w")}) AS r
  UNION ALL
  SELECT {_day("o.contact_status_changed_at")}, 'reached', r::text, -1
    FROM old_rows o JOIN new_rows w ON w.id = o.id,
         generate_series({RANK.format(t="w")} + 1, {RANK.format(t="o")}) AS r
  UNION ALL
  SELECT {_day("w.website_status_changed_at")}, 'site', 'generated', 1
    FROM old_rows o JOIN new_rows w ON w.id = o.id
   WHERE {SITE.format(t="w")} AND NOT {SITE.format(t="o")}
  UNION ALL
  SELECT {_day("o.website_status_changed_at")}, 'site', 'generated', -1
    FROM old_rows o JOIN new_rows w ON w.id = o.id
   WHERE {SITE.format(t="o")} AND NOT {SITE.format(t="w")}
"""

# The trigger function is replaced in place; the triggers of 0014 keep calling it.
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
"""


def _sqlite_rows(t: str, sign: str) -> str:
    return (
        f"SELECT {_day(f'{t}.created_at')}, 'created', "
        f"CAST({t}.qualification_score AS TEXT), {sign}1 "
        f"UNION ALL SELECT {_day(f'{t}.contact_status_changed_at')}, 'reached', "
        f"CAST(r.n AS TEXT), {sign}1 FROM {SQLITE_RANKS} r WHERE r.n <= {RANK.format(t=t)} "
        f"UNION ALL SELECT {_day(f'{t}.website_status_changed_at')}, 'site', "
        f"'generated', {sign}1 WHERE {SITE.format(t=t)}"
    )


_MOVED = (
    "WHERE OLD.qualification_score IS NOT NEW.qualification_score "
    "OR OLD.created_at IS NOT NEW.created_at "
)
SQLITE_UPDATE_ROWS = (
    f"SELECT {_day('OLD.created_at')}, 'created', "
    f"CAST(OLD.qualification_score AS TEXT), -1 {_MOVED}"
    f"UNION ALL SELECT {_day('NEW.created_at')}, 'created', "
    f"CAST(NEW.qualification_score AS TEXT), 1 {_MOVED}"
    f"UNION ALL SELECT {_day('NEW.contact_status_changed_at')}, 'reached', "
    f"CAST(r.n AS TEXT), 1 FROM {SQLITE_RANKS} r "
    f"WHERE r.n > {RANK.format(t='OLD')} AND r.n <= {RANK.format(t='NEW')} "
    f"UNION ALL SELECT {_day('OLD.contact_status_changed_at')}, 'reached', "
    f"CAST(r.n AS TEXT), -1 FROM {SQLITE_RANKS} r "
    f"WHERE r.n > {RANK.format(t='NEW')} AND r.n <= {RANK.format(t='OLD')} "
    f"UNION ALL SELECT {_day('NEW.website_status_changed_at')}, 'site', 'generated', 1 "
    f"WHERE {SITE.format(t='NEW')} AND NOT {SITE.format(t='OLD')} "
    f"UNION ALL SELECT {_day('OLD.website_status_changed_at')}, 'site', 'generated', -1 "
    f"WHERE {SITE.format(t='OLD')} AND NOT {SITE.format(t='NEW')}"
)

_INSERT = "INSERT INTO crm_leaddaytally (day, field, value, delta)"
SQLITE_CREATE = [
    *_0014.SQLITE_DROP,
    "CREATE TRIGGER crm_lead_day_tally_ins AFTER INSERT ON crm_business BEGIN "
    f"{_INSERT} {_sqlite_rows('NEW', '+')}; END",
    "CREATE TRIGGER crm_lead_day_tally_del AFTER DELETE ON crm_business BEGIN "
    f"{_INSERT} {_sqlite_rows('OLD', '-')}; END",
    "CREATE TRIGGER crm_lead_day_tally_upd AFTER UPDATE OF furthest_contact_status, "
    "website_status, qualification_score, created_at ON crm_business BEGIN "
    f"{_INSERT} {SQLITE_UPDATE_ROWS}; END",
]


def _backfill(vendor: str) -> str:
    rank, site = RANK.format(t="b"), SITE.format(t="b")
    created, changed, site_changed = (
        _day(f"b.{column}")
        for column in ("created_at", "contact_status_changed_at", "website_status_changed_at")
    )
    if vendor == "postgresql":
        return (
            "INSERT INTO crm_leaddaytally (day, field, value, delta) SELECT d, f, v, count(*) "
            f"FROM (SELECT {created} AS d, 'created' AS f, "
            "b.qualification_score::text AS v FROM crm_business b "
            f"UNION ALL SELECT {changed}, "
            f"'reached', r::text FROM crm_business b, generate_series(1, {rank}) AS r "
            f"UNION ALL SELECT {site_changed}, 'site', "
            f"'generated' FROM crm_business b WHERE {site}) x GROUP BY d, f, v"
        )
    return (
        "INSERT INTO crm_leaddaytally (day, field, value, delta) SELECT d, f, v, count(*) FROM "
        f"(SELECT {created} AS d, 'created' AS f, CAST(b.qualification_score AS TEXT) "
        "AS v FROM crm_business b "
        f"UNION ALL SELECT {changed}, 'reached', CAST(r.n AS TEXT) "
        f"FROM crm_business b JOIN {SQLITE_RANKS} r ON r.n <= {rank} "
        f"UNION ALL SELECT {site_changed}, 'site', 'generated' "
        f"FROM crm_business b WHERE {site}) GROUP BY d, f, v"
    )


# The recount of what exists: every lead's stages dated by its last status change.
DAY_BACKFILL = {vendor: _backfill(vendor) for vendor in ("postgresql", "sqlite")}


def forwards(apps, schema_editor):
    apps.get_model("crm", "TallyZone").objects.update_or_create(
        pk=1, defaults={"zone": settings.CRM_TIME_ZONE}
    )
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute(PG_TALLY_DAY_FUNCTION)
            cursor.execute(PG_CREATE)
        elif vendor == "sqlite":
            for statement in SQLITE_CREATE:
                cursor.execute(statement)
        else:
            raise RuntimeError(f"no lead day-tally triggers for {vendor}")
        cursor.execute("DELETE FROM crm_leaddaytally")
        cursor.execute(DAY_BACKFILL[vendor])


def backwards(apps, schema_editor):
    """Back to 0014's UTC days: its triggers and its recount, then no day function."""
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        for statement in [_0014.PG_DROP] if vendor == "postgresql" else _0014.SQLITE_DROP:
            cursor.execute(statement)
    _0014.forwards(apps, schema_editor)
    if vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(PG_TALLY_DAY_DROP)


class Migration(migrations.Migration):
    dependencies = [("crm", "0018_lead_facets_and_sort_indexes")]

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
