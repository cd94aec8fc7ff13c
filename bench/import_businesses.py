"""Benchmark: import_businesses on an Outscraper-shaped CSV vs a raw COPY + INSERT…SELECT floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wm_bench .venv/bin/python \
        -m bench.import_businesses [--rows 100000]

Runs in its own database (wm_bench_import, dropped and migrated each run) so it starts
from an empty lead table. "ours" is the whole command (parse, normalise, score, bulk
dedupe, bulk_create, LeadEvents, raw ImportRecords); the floor is the least a database can
do with the same rows: COPY into a staging table plus one set-based INSERT … SELECT merge
into crm_business (no events, no raw records, no scoring). Target: ours ≤ 3× the floor.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench import common

BENCH_DB = "wm_bench_import"
HEADER = [
    "name", "site", "type", "phone", "full_address", "city", "state", "postal_code",
    "country_code", "latitude", "longitude", "rating", "reviews", "photos_count",
    "working_hours", "place_id", "email_1",
]  # fmt: skip
CITIES = [("Austin", "Texas", "512"), ("Dallas", "Texas", "214"), ("Houston", "Texas", "713"),
          ("Phoenix", "Arizona", "602"), ("Miami", "Florida", "305"),
          ("Denver", "Colorado", "303")]  # fmt: skip
TRADES = ["Plumber", "Electrician", "Restaurant", "Roofing contractor", "Dentist", "Hair salon"]


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(rows):
            city, state, area = CITIES[i % len(CITIES)]
            trade = TRADES[(i // len(CITIES)) % len(TRADES)]
            name = f"{trade} {i:06d} Co"
            roll = rnd.random()
            site = (
                f"https://{trade.split()[0].lower()}{i}.com"
                if roll < 0.4
                else f"https://facebook.com/biz{i}"
                if roll < 0.55
                else ""
            )
            out.writerow([
                name, site, trade, f"+1 {area}-{200 + i // 10000:03d}-{i % 10000:04d}",
                f"{i} Main St, {city}, {state}", city, state, f"{70000 + i % 9999}", "US",
                f"{30 + rnd.random():.5f}", f"{-97 - rnd.random():.5f}",
                f"{rnd.uniform(3, 5):.1f}", rnd.randint(0, 400), rnd.randint(0, 60),
                '{"Monday": "8AM-5PM"}', f"ChIJbench{i:08d}",
                f"info@{trade.split()[0].lower()}{i}.com" if roll < 0.5 else "",
            ])  # fmt: skip


FLOOR_SQL = """
CREATE TEMP TABLE staging (name text, site text, type text, phone text, full_address text,
  city text, state text, postal_code text, country_code text, latitude text, longitude text,
  rating text, reviews text, photos_count text, working_hours text, place_id text,
  email_1 text);
"""
COPY_SQL = "COPY staging FROM STDIN WITH (FORMAT csv, HEADER true, FORCE_NOT_NULL (site, email_1))"
MERGE_SQL = """
INSERT INTO crm_business (name, slug, email, phone, phone_normalized, website, website_domain,
  website_kind, address, city, state, country, postal_code, latitude, longitude, category,
  rating, review_count, photo_count, hours, services, gmb_place_id, name_city_key, source,
  qualification_score, score_breakdown, contact_status, contact_status_changed_at,
  furthest_contact_status, website_status, website_status_changed_at, created_at, updated_at)
SELECT name, lower(regexp_replace(name || '-' || city, '[^a-zA-Z0-9]+', '-', 'g')),
  lower(email_1), phone, '+' || regexp_replace(phone, '\\D', '', 'g'), site,
  CASE WHEN site <> '' AND site NOT LIKE '%facebook.com%'
       THEN regexp_replace(site, '^https?://(www\\.)?([^/]+).*$', '\\2') ELSE '' END,
  CASE WHEN site = '' THEN 'none' WHEN site LIKE '%facebook.com%' THEN 'social'
       ELSE 'own' END,
  full_address, city, state, country_code, postal_code, latitude::float8, longitude::float8,
  type, rating::numeric(2,1), reviews::int, photos_count::int, working_hours::jsonb, '[]',
  place_id, lower(name) || '|' || lower(city), 'bench', 0, '{}', 'pending', now(),
  'pending', 'none', now(), now(), now()
FROM staging
ON CONFLICT (gmb_place_id) DO NOTHING
"""


def _empty_leads() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE crm_business, crm_leadevent, crm_importrecord, crm_importbatch CASCADE"
        )


def _floor(path: Path) -> float:
    conn = common.raw_connection()
    start = time.perf_counter()
    with conn.transaction():
        conn.execute(FLOOR_SQL)
        with (
            conn.cursor() as cur,
            cur.copy(COPY_SQL) as copy,
            path.open("rb") as fh,
        ):
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        conn.execute(MERGE_SQL)
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


def run(rows: int = 100_000, rounds: int = 3) -> dict:
    """Interleaved rounds on an emptied lead table: our command, then the floor; medians and
    per-round ratios (one sample of each swung the floor between 4.7 and 8.2 s). The first
    round also re-imports the same file (every row a duplicate: the dedupe path)."""
    from django.core.management import call_command
    from django.db import connection

    from crm.models import Business

    common.require_postgres()
    original = connection.settings_dict["NAME"]
    ours, floors, ratios = [], [], []
    second = None
    try:
        common.reset_database(BENCH_DB)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "outscraper.csv"
            write_csv(path, rows)
            for r in range(rounds):
                _empty_leads()
                start = time.perf_counter()
                call_command("import_businesses", str(path), stdout=io.StringIO())
                ours.append(time.perf_counter() - start)
                imported = Business.objects.count()
                if r == 0:
                    start = time.perf_counter()
                    call_command("import_businesses", str(path), stdout=io.StringIO())
                    second = time.perf_counter() - start
                    assert Business.objects.count() == imported, "second run created leads"
                _empty_leads()
                floors.append(_floor(path))
                floor_rows = Business.objects.count()
                ratios.append(ours[-1] / floors[-1])
        result = {
            "rows": rows,
            "rounds": rounds,
            "imported": imported,
            "ours_seconds": round(statistics.median(ours), 2),
            "ours_rounds": [round(x, 2) for x in ours],
            "second_run_seconds": round(second, 2),
            "floor_seconds": round(statistics.median(floors), 2),
            "floor_rounds": [round(x, 2) for x in floors],
            "floor_rows": floor_rows,
            "ratio_rounds": [round(x, 2) for x in ratios],
            "ratio": round(statistics.median(ratios), 2),
            "rows_per_second": round(rows / statistics.median(ours)),
            "machine": common.machine(),
        }
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
    common.write_result("import_businesses", result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_businesses")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    common.setup_django()
    r = run(args.rows, args.rounds)
    print(f"{'rows':>8} {'ours s':>8} {'2nd run s':>10} {'floor s':>8} {'ratio':>6} {'rows/s':>8}")
    print(
        f"{r['rows']:>8} {r['ours_seconds']:>8} {r['second_run_seconds']:>10} "
        f"{r['floor_seconds']:>8} {r['ratio']:>6} {r['rows_per_second']:>8}"
    )
    print(f"rounds: ours {r['ours_rounds']}, floor {r['floor_rounds']}, ratio {r['ratio_rounds']}")


if __name__ == "__main__":
    main()
