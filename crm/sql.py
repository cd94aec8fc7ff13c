"""Raw SQL of the crm app: the lead-tally triggers' statements and what they share.

Why raw: the tallies are kept by database triggers (so every writer — the lifecycle, COPY
imports, bulk updates — keeps them true), and triggers are SQL. Measured reason for the
tallies themselves: counting a million leads per status took 180 ms; summing the tally rows
takes under 1 ms (README "Fast at a million leads").
"""

from __future__ import annotations

from collections.abc import Callable

from crm.lifecycle import ENGAGEMENT_RANK
from crm.models import WebsiteStatus

SITE_GENERATED = (WebsiteStatus.GENERATED, WebsiteStatus.DEPLOYED, WebsiteStatus.SOLD)

# A lead's engagement rank (0–6) and whether it has a generated site, shared by the
# day-tally triggers and the rebuild. `{t}` is the row alias.
RANK_SQL = (
    "(CASE {t}.furthest_contact_status "
    + " ".join(f"WHEN '{s}' THEN {r}" for s, r in ENGAGEMENT_RANK.items() if r)
    + " ELSE 0 END)"
)
SITE_SQL = "{t}.website_status IN (" + ", ".join(f"'{s}'" for s in SITE_GENERATED) + ")"
SQLITE_RANKS = "(" + " UNION ALL ".join(f"SELECT {n} AS n" for n in range(1, 7)) + ")"

DayExpr = Callable[[str], str]


# --- which day a timestamp falls on ----------------------------------------------------------
# The day tallies count each stage on the day it was reached *in CRM_TIME_ZONE* (crm.periods),
# so "Today" or "This week" in Guatemala starts at Guatemala's midnight. The zone is a row of
# crm_tallyzone that the triggers read (crm.tallies.tally_zone_sync keeps it equal to the
# setting and recounts the days when it changes).


def utc_day(vendor: str) -> DayExpr:
    """The day in UTC (what migration 0014 first counted in)."""
    if vendor == "postgresql":
        return lambda expr: f"({expr} AT TIME ZONE 'UTC')::date"
    return lambda expr: f"date({expr})"


def zone_day(vendor: str) -> DayExpr:
    """The day in the tally zone: PostgreSQL's crm_tally_day() (below); on SQLite the
    function crm.tallies registers on every connection (SQLite knows no time zones)."""
    if vendor == "postgresql":
        return lambda expr: f"crm_tally_day({expr})"
    return lambda expr: f"crm_tally_day({expr}, (SELECT zone FROM crm_tallyzone WHERE id = 1))"


# One uncorrelated subquery: PostgreSQL inlines this SQL function and reads the zone once
# per statement (a 100,000-row import is one lookup, not 100,000).
PG_TALLY_DAY_FUNCTION = """
CREATE OR REPLACE FUNCTION crm_tally_day(ts timestamptz) RETURNS date LANGUAGE sql STABLE AS $$
  SELECT (ts AT TIME ZONE COALESCE((SELECT zone FROM crm_tallyzone WHERE id = 1), 'UTC'))::date
$$;
"""
PG_TALLY_DAY_DROP = "DROP FUNCTION IF EXISTS crm_tally_day(timestamptz);"


# --- the day-tally triggers ------------------------------------------------------------------
# PostgreSQL: statement-level triggers with transition tables (a bulk import adds a few rows).
# SQLite: row-level triggers. A lead deleted or moved back loses its stages on the day of its
# last status change (the days it reached each stage are not kept per lead).


def _pg_rows(t: str, sign: str, day: DayExpr) -> str:
    """Every stage row of the leads in transition table `t`, counted `sign`1."""
    return (
        f"SELECT {day(f'{t}.created_at')} AS d, 'created' AS f, "
        f"{t}.qualification_score::text AS v, {sign}1 AS n FROM {t} "
        f"UNION ALL SELECT {day(f'{t}.contact_status_changed_at')}, 'reached', r::text, "
        f"{sign}1 FROM {t}, generate_series(1, {RANK_SQL.format(t=t)}) AS r "
        f"UNION ALL SELECT {day(f'{t}.website_status_changed_at')}, 'site', 'generated', "
        f"{sign}1 FROM {t} WHERE {SITE_SQL.format(t=t)}"
    )


def _pg_update_rows(day: DayExpr) -> str:
    rank_o, rank_w = RANK_SQL.format(t="o"), RANK_SQL.format(t="w")
    site_o, site_w = SITE_SQL.format(t="o"), SITE_SQL.format(t="w")
    return f"""
  SELECT {day("o.created_at")} AS d, 'created' AS f, o.qualification_score::text AS v,
         -1 AS n
    FROM old_rows o JOIN new_rows w ON w.id = o.id
   WHERE o.qualification_score <> w.qualification_score OR o.created_at <> w.created_at
  UNION ALL
  SELECT {day("w.created_at")}, 'created', w.qualification_score::text, 1
    FROM old_rows o JOIN new_rows w ON w.id = o.id
   WHERE o.qualification_score <> w.qualification_score OR o.created_at <> w.created_at
  UNION ALL
  SELECT {day("w.contact_status_changed_at")}, 'reached', r::text, 1
    FROM old_rows o JOIN new_rows w ON w.id = o.id,
         generate_series({rank_o} + 1, {rank_w}) AS r
  UNION ALL
  SELECT {day("o.contact_status_changed_at")}, 'reached', r::text, -1
    FROM old_rows o JOIN new_rows w ON w.id = o.id,
         generate_series({rank_w} + 1, {rank_o}) AS r
  UNION ALL
  SELECT {day("w.website_status_changed_at")}, 'site', 'generated', 1
    FROM old_rows o JOIN new_rows w ON w.id = o.id
   WHERE {site_w} AND NOT {site_o}
  UNION ALL
  SELECT {day("o.website_status_changed_at")}, 'site', 'generated', -1
    FROM old_rows o JOIN new_rows w ON w.id = o.id
   WHERE {site_o} AND NOT {site_w}
"""


def _pg_triggers(day: DayExpr) -> str:
    return f"""
CREATE OR REPLACE FUNCTION crm_lead_day_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO crm_leaddaytally (day, field, value, delta)
      SELECT d, f, v, sum(n) FROM ({_pg_rows("new_rows", "+", day)}) x GROUP BY d, f, v;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO crm_leaddaytally (day, field, value, delta)
      SELECT d, f, v, sum(n) FROM ({_pg_rows("old_rows", "-", day)}) x GROUP BY d, f, v;
  ELSE
    INSERT INTO crm_leaddaytally (day, field, value, delta)
      SELECT d, f, v, sum(n) FROM ({_pg_update_rows(day)}) x GROUP BY d, f, v
      HAVING sum(n) <> 0;
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION crm_lead_day_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM crm_leaddaytally;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS crm_lead_day_tally_ins ON crm_business;
DROP TRIGGER IF EXISTS crm_lead_day_tally_upd ON crm_business;
DROP TRIGGER IF EXISTS crm_lead_day_tally_del ON crm_business;
DROP TRIGGER IF EXISTS crm_lead_day_tally_trunc ON crm_business;
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


PG_DAY_TALLY_DROP = """
DROP TRIGGER IF EXISTS crm_lead_day_tally_ins ON crm_business;
DROP TRIGGER IF EXISTS crm_lead_day_tally_upd ON crm_business;
DROP TRIGGER IF EXISTS crm_lead_day_tally_del ON crm_business;
DROP TRIGGER IF EXISTS crm_lead_day_tally_trunc ON crm_business;
DROP FUNCTION IF EXISTS crm_lead_day_tally();
DROP FUNCTION IF EXISTS crm_lead_day_tally_truncate();
"""


def _sqlite_rows(t: str, sign: str, day: DayExpr) -> str:
    return (
        f"SELECT {day(f'{t}.created_at')}, 'created', CAST({t}.qualification_score AS TEXT), "
        f"{sign}1 "
        f"UNION ALL SELECT {day(f'{t}.contact_status_changed_at')}, 'reached', "
        f"CAST(r.n AS TEXT), {sign}1 FROM {SQLITE_RANKS} r WHERE r.n <= {RANK_SQL.format(t=t)} "
        f"UNION ALL SELECT {day(f'{t}.website_status_changed_at')}, 'site', 'generated', "
        f"{sign}1 WHERE {SITE_SQL.format(t=t)}"
    )


def _sqlite_update_rows(day: DayExpr) -> str:
    rank_old, rank_new = RANK_SQL.format(t="OLD"), RANK_SQL.format(t="NEW")
    site_old, site_new = SITE_SQL.format(t="OLD"), SITE_SQL.format(t="NEW")
    moved = (
        "WHERE OLD.qualification_score IS NOT NEW.qualification_score "
        "OR OLD.created_at IS NOT NEW.created_at "
    )
    return (
        f"SELECT {day('OLD.created_at')}, 'created', CAST(OLD.qualification_score AS TEXT), -1 "
        + moved
        + f"UNION ALL SELECT {day('NEW.created_at')}, 'created', "
        "CAST(NEW.qualification_score AS TEXT), 1 "
        + moved
        + f"UNION ALL SELECT {day('NEW.contact_status_changed_at')}, 'reached', "
        f"CAST(r.n AS TEXT), 1 FROM {SQLITE_RANKS} r WHERE r.n > {rank_old} AND r.n <= {rank_new} "
        f"UNION ALL SELECT {day('OLD.contact_status_changed_at')}, 'reached', "
        f"CAST(r.n AS TEXT), -1 FROM {SQLITE_RANKS} r "
        f"WHERE r.n > {rank_new} AND r.n <= {rank_old} "
        f"UNION ALL SELECT {day('NEW.website_status_changed_at')}, 'site', 'generated', 1 "
        f"WHERE {site_new} AND NOT {site_old} "
        f"UNION ALL SELECT {day('OLD.website_status_changed_at')}, 'site', 'generated', -1 "
        f"WHERE {site_old} AND NOT {site_new}"
    )


SQLITE_DAY_TALLY_DROP = [
    f"DROP TRIGGER IF EXISTS crm_lead_day_tally_{op}" for op in ("ins", "del", "upd")
]


def day_tally_triggers(vendor: str, day: DayExpr) -> list[str]:
    """The statements that (re)create the day-tally triggers, counting days with `day`."""
    if vendor == "postgresql":
        return [_pg_triggers(day)]
    if vendor != "sqlite":
        raise RuntimeError(f"no lead day-tally triggers for {vendor}")
    insert = "INSERT INTO crm_leaddaytally (day, field, value, delta)"
    return [
        *SQLITE_DAY_TALLY_DROP,
        "CREATE TRIGGER crm_lead_day_tally_ins AFTER INSERT ON crm_business BEGIN "
        f"{insert} {_sqlite_rows('NEW', '+', day)}; END",
        "CREATE TRIGGER crm_lead_day_tally_del AFTER DELETE ON crm_business BEGIN "
        f"{insert} {_sqlite_rows('OLD', '-', day)}; END",
        "CREATE TRIGGER crm_lead_day_tally_upd AFTER UPDATE OF furthest_contact_status, "
        "website_status, qualification_score, created_at ON crm_business BEGIN "
        f"{insert} {_sqlite_update_rows(day)}; END",
    ]


def day_tally_backfill(vendor: str, day: DayExpr) -> str:
    """Recount crm_leaddaytally from crm_business (after a bulk load a lead's stages are
    dated by its last status change). One grouped pass over the leads."""
    if vendor == "postgresql":
        return (
            "INSERT INTO crm_leaddaytally (day, field, value, delta) SELECT d, f, v, count(*) "
            "FROM ("
            f"SELECT {day('b.created_at')} AS d, 'created' AS f, "
            "b.qualification_score::text AS v FROM crm_business b "
            f"UNION ALL SELECT {day('b.contact_status_changed_at')}, 'reached', r::text "
            f"FROM crm_business b, generate_series(1, {RANK_SQL.format(t='b')}) AS r "
            f"UNION ALL SELECT {day('b.website_status_changed_at')}, 'site', 'generated' "
            f"FROM crm_business b WHERE {SITE_SQL.format(t='b')}"
            ") x GROUP BY d, f, v"
        )
    return (
        "INSERT INTO crm_leaddaytally (day, field, value, delta) SELECT d, f, v, count(*) FROM ("
        f"SELECT {day('b.created_at')} AS d, 'created' AS f, "
        "CAST(b.qualification_score AS TEXT) AS v FROM crm_business b "
        f"UNION ALL SELECT {day('b.contact_status_changed_at')}, 'reached', CAST(r.n AS TEXT) "
        f"FROM crm_business b JOIN {SQLITE_RANKS} r ON r.n <= {RANK_SQL.format(t='b')} "
        f"UNION ALL SELECT {day('b.website_status_changed_at')}, 'site', 'generated' "
        f"FROM crm_business b WHERE {SITE_SQL.format(t='b')}"
        ") GROUP BY d, f, v"
    )


# --- time in stage ---------------------------------------------------------------------------
# Median and 90th percentile of the days leads have sat in their current stage, per stage,
# over the (filtered) leads of the inner query. Raw because the ORM has no ordered-set
# aggregate (percentile_cont). One grouped pass: 3.4 ms over the 2,000-lead demo world;
# 340 ms over a 200,000-lead one (189,000 non-terminal), where the scan itself takes
# 280 ms, the AVG pass it replaced 440 ms and fetching the ages into Python 670 ms.
# Parameters: the stall cut-off, now, then the inner query's own.
STAGE_AGES = """
SELECT s.contact_status, COUNT(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY s.age),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY s.age),
       COUNT(*) FILTER (WHERE s.changed < %s)
  FROM (SELECT i.contact_status, i.contact_status_changed_at AS changed,
               EXTRACT(EPOCH FROM (CAST(%s AS timestamptz) - i.contact_status_changed_at))
                 / 86400.0 AS age
          FROM ({inner}) AS i) AS s
 GROUP BY s.contact_status
"""
