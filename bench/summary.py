"""The short markdown table `make bench` prints and writes to bench/results/summary.md:
one row per workload, ours next to its anchor from the same run, the ratio and the target."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _ms(d: dict | None) -> str:
    return f"{d['median_ms']:.1f} ms" if d else "—"


def _ratio(ours: float | None, anchor: float | None) -> str:
    return f"{ours / anchor:.2f}×" if ours and anchor else "—"


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(workload, ours, anchor, ratio, target) for every benchmark that produced figures."""
    out: list[tuple[str, str, str, str, str]] = []
    lt = results.get("lead_table") or {}
    if "first_page" in lt:
        fp = lt["first_page"]
        f = lt["world"]["filter"]
        label = f"lead table, first page ({f['contact_status']} + {f['city']})"
        out += [
            (f"{label}: SQL through the ORM", _ms(fp.get("orm_query") or fp["orm_queries"]),
             f"raw SQL {_ms(fp['raw_sql'])}",
             _ratio((fp.get("orm_query") or fp["orm_queries"])["median_ms"],
                    fp["raw_sql"]["median_ms"]), "≤ 3×"),
            (f"{label}: FilterSet + SQL", _ms(fp["orm_queries"]), f"raw SQL {_ms(fp['raw_sql'])}",
             _ratio(fp["orm_queries"]["median_ms"], fp["raw_sql"]["median_ms"]), "—"),
            (f"{label}: htmx fragment", _ms(fp["fragment"]),
             f"admin changelist {_ms(fp['admin_changelist'])}",
             _ratio(fp["fragment"]["median_ms"], fp["admin_changelist"]["median_ms"]),
             "≤ 15 ms"),
            (f"{label}: full page", _ms(fp["full_page"]),
             f"admin changelist {_ms(fp['admin_changelist'])}",
             _ratio(fp["full_page"]["median_ms"], fp["admin_changelist"]["median_ms"]), "—"),
        ]  # fmt: skip
        if fp.get("full_page_with_counts"):
            both = fp["full_page_with_counts"]
            out.append(
                (f"{label}: full page with its counts (+ its lazy count request)", _ms(both),
                 f"admin changelist {_ms(fp['admin_changelist'])}",
                 _ratio(both["median_ms"], fp["admin_changelist"]["median_ms"]),
                 "≤ 30 ms; ≤ 0.2× (5× faster)")
            )  # fmt: skip
    if "deep_page" in lt:
        dp = lt["deep_page"]
        out.append(
            (f"lead table, page {dp['page']:,} (fragment)", _ms(dp["deep_fragment"]),
             f"page 1 {_ms(dp['first_fragment'])}; raw OFFSET {_ms(dp['raw_sql_offset'])}",
             _ratio(dp["deep_fragment"]["median_ms"], dp["first_fragment"]["median_ms"]),
             "≤ 1.3× page 1")
        )  # fmt: skip
    if "random_filters" in lt:
        rf = lt["random_filters"]
        out.append(
            (f"lead table SQL, {rf['n']} random sidebar combinations", f"p95 {rf['p95_ms']:.1f} ms",
             f"median {rf['median_ms']:.1f} ms", "—", "p95 < 50 ms")
        )  # fmt: skip
        if "seeds" in rf:
            out.append(
                (f"… the same for seeds {', '.join(map(str, rf['seeds']))}: worst seed "
                 f"({rf['worst_seed']})", f"p95 {rf['worst_seed_p95_ms']:.1f} ms",
                 f"all {sum(s['n'] for s in rf['seeds'].values())}: "
                 f"p95 {rf['all_p95_ms']:.1f} ms", "—", "p95 < 50 ms")
            )  # fmt: skip
            out.append(
                (f"lead table SQL, {len(rf['contradictions'])} contradictory combinations "
                 "(no lead matches)", f"max {rf['contradictions_max_ms']:.1f} ms", "—", "—",
                 "< 50 ms")
            )  # fmt: skip
    for label, pv in (lt.get("per_value") or {}).items():
        out.append(
            (f"lead table SQL, {label} newest first: one branch per value (UNION ALL)",
             _ms(pv["branches"]), f"one query {_ms(pv['one_query'])}", f"{pv['ratio']:.2f}×",
             "—")
        )  # fmt: skip
    if "dashboard_funnel" in lt:
        df = lt["dashboard_funnel"]
        out += [
            ("dashboard funnel, all time (tallies)", _ms(df["tallies"]),
             f"count(*) FILTER pass {_ms(df['raw_count_filter_pass'])}",
             _ratio(df["tallies"]["median_ms"], df["raw_count_filter_pass"]["median_ms"]),
             "< 5 ms, ≤ the raw pass"),
        ]  # fmt: skip
        if "period_month" in df:
            out.append(
                ("dashboard funnel, this month (day tallies)", _ms(df["period_month"]),
                 f"count(*) FILTER pass {_ms(df['raw_count_filter_pass'])}",
                 _ratio(df["period_month"]["median_ms"], df["raw_count_filter_pass"]["median_ms"]),
                 "period funnel < 50 ms")
            )  # fmt: skip
        out.append(
            ("dashboard page, all time / this month", _ms(df["dashboard_all_time"]),
             f"month {_ms(df['dashboard_month'])}", "—", "—")
        )  # fmt: skip
    cs = results.get("campaign_start") or {}
    if "ours_seconds" in cs:
        out.append(
            (f"campaign start, {cs['recipients']:,} recipients", f"{cs['ours_seconds']:.2f} s",
             f"INSERT … SELECT {cs['anchor_seconds']:.2f} s", f"{cs['ratio']:.2f}×", "≤ 2×")
        )  # fmt: skip
    ib = results.get("import_businesses") or {}
    if "ours_seconds" in ib:
        out.append(
            (f"import_businesses, {ib['rows']:,} rows", f"{ib['ours_seconds']:.1f} s",
             f"COPY + merge {ib['floor_seconds']:.1f} s", f"{ib['ratio']:.2f}×", "≤ 3×")
        )  # fmt: skip
    wh = (results.get("webhooks") or {}).get("results") or {}
    if "bare_sql" in wh:
        anchor = wh["bare_sql"]["rps_median"]
        for name in ("ses_tracking", "twilio_status"):
            if name in wh:
                r = wh[name]
                check = r.get("check", {})
                lost, doubled = check.get("lost", "?"), check.get("double_applied", "?")
                faults = f"lost {lost}, doubled {doubled}"
                out.append(
                    (f"webhook {name} (gunicorn, wrk)", f"{r['rps_median']} req/s",
                     f"bare-SQL view {anchor} req/s",
                     f"{r['vs_bare_sql']:.2f}×" if "vs_bare_sql" in r
                     else _ratio(r["rps_median"], anchor),
                     f"≥ 0.5×; {faults}")
                )  # fmt: skip
    an = results.get("analytics") or {}
    for tab, t in (an.get("tabs") or {}).items():
        out.append(
            (f"analytics {tab}", _ms(t["page"]), f"raw SQL floor {_ms(t['floor'])}",
             _ratio(t["page"]["median_ms"], t["floor"]["median_ms"]), "< 1,000 ms")
        )  # fmt: skip
    return out


def markdown(results: dict[str, Any], machine: dict[str, Any]) -> str:
    lines = [
        "| workload | ours (median) | measured against (same run) | ratio | target |",
        "|---|---|---|---|---|",
        *("| " + " | ".join(row) + " |" for row in rows(results)),
        "",
        f"Machine: {machine.get('cpus')} CPUs, Python {machine.get('python')}, "
        f"{(machine.get('database') or '').split(' on ')[0]}.",
    ]
    errors = {k: v["error"] for k, v in results.items() if isinstance(v, dict) and "error" in v}
    lines += [f"- {name} failed: {error}" for name, error in errors.items()]
    return "\n".join(lines) + "\n"


def load_latest(results_dir: Path, names: tuple[str, ...]) -> dict[str, Any]:
    """Each benchmark's last result file (bench/results/<name>.json), when there is one."""
    found = {}
    for name in names:
        path = results_dir / f"{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text())
    return found
