"""`make bench`: every benchmark, side by side with its anchor, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wm_bench make bench
    make bench BENCH_ARGS="--only lead_table --leads 1000000"

Builds (or reuses) a world of `--leads` leads with seed_demo, then runs each benchmark
module's `run()` and writes bench/results/<name>.json plus bench/results/summary.md.
"""

from __future__ import annotations

import argparse
import importlib
import time
import traceback

from bench import common, summary

BENCHMARKS = ("lead_table", "campaign_start", "import_businesses", "webhooks", "analytics")


def ensure_world(leads: int) -> None:
    from django.core.management import call_command

    from crm.models import Business

    have = Business.objects.count()
    if have >= leads * 0.98:
        print(f"Reusing the existing world (~{have:,} leads).")
        return
    print(f"Building a world of {leads:,} leads with seed_demo (this takes minutes) …")
    call_command("migrate", verbosity=0)
    call_command("seed_demo", leads=leads, reset=True)
    # A freshly written table has no visibility map yet: without it every index-only count
    # and scan reads the table (the lead table's count of 8,000 leads: 21 ms instead of 4).
    # Production tables are vacuumed by autovacuum; measure them in that state.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--only", action="append", choices=BENCHMARKS)
    parser.add_argument("--skip-seed", action="store_true")
    args = parser.parse_args()

    common.setup_django()
    common.require_postgres()
    if not args.skip_seed:
        ensure_world(args.leads)
    results: dict[str, dict] = {}
    for name in args.only or BENCHMARKS:
        print(f"\n=== {name}")
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            results[name] = module.run()
        except Exception as exc:  # one failing benchmark must not hide the others
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        results[name]["wall_s"] = round(time.perf_counter() - started, 1)
    machine = common.machine()
    path = common.write_result("all", {"machine": machine, "results": results})
    # The summary covers every benchmark: those not run now keep their latest result file
    # (each row's figure and anchor still come from one run).
    latest = {**summary.load_latest(common.RESULTS_DIR, BENCHMARKS), **results}
    table = summary.markdown(latest, machine)
    (common.RESULTS_DIR / "summary.md").write_text(table)
    print(f"\nResults: {path} and {common.RESULTS_DIR / 'summary.md'}\n")
    print(table)


if __name__ == "__main__":
    main()
