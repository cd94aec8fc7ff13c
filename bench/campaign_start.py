"""Benchmark: campaign_start for 100,000 recipients vs a raw server-side INSERT … SELECT of
the same rows, measured side by side.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wm_bench .venv/bin/python \
        -m bench.campaign_start [--leads 100000] [--repeat 3]

Runs in its own database (wm_bench_campaign, dropped and migrated each run) with `--leads`
eligible leads (plus a few excluded ones: suppressed, opted out, recently contacted) and
preview sites for a third of them. "ours" is the whole `campaign_start`: FilterSet audience,
every exclusion rule, site lookup, pacing (row_number) and the per-message token, one
INSERT … SELECT, the campaign's status change and the first dispatch (the messages due in
the next minute handed to django-q2 in chunks, on the ORM broker). The anchor is the least a
database can do for the same rows: one INSERT … SELECT of the same recipients into
campaigns_message with a constant send time and the same token expression, no exclusions.
Target: ours ≤ 2× the anchor.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench import common

BENCH_DB = "wm_bench_campaign"

ANCHOR_SQL = """
INSERT INTO campaigns_message (
    campaign_id, step, direction, business_id, site_id, channel, to_address, from_address,
    subject, body, status, token, send_after, opened_count, clicked_count, error, created_at
)
SELECT %s, 1, 'outbound', b.id, NULL, 'email', b.email, '', '', '', 'queued',
       replace(gen_random_uuid()::text, '-', ''), now(), 0, 0, '', now()
FROM crm_business b
WHERE b.city = 'Austin' AND b.email <> '' AND b.email_opt_out_at IS NULL
  AND b.last_contacted_at IS NULL
"""


def _world(leads: int) -> int:
    """`leads` eligible Austin leads plus 1% excluded ones; sites for a third."""
    from django.utils import timezone

    from campaigns.models import Suppression
    from crm.models import Business
    from sites.models import Site

    now = timezone.now()
    rows = []
    extra = max(10, leads // 100)
    for i in range(leads + extra):
        excluded = i >= leads
        rows.append(
            Business(
                name=f"Bench Lead {i}",
                slug=f"bench-lead-{i}",
                email="" if excluded and i % 3 == 2 else f"owner{i}@lead{i}.example",
                phone=f"+1512{i:07d}"[:12],
                phone_normalized=f"+1512{i:07d}"[:12],
                city="Austin",
                state="TX",
                category="Plumber",
                email_opt_out_at=now if excluded and i % 3 == 0 else None,
                last_contacted_at=now if excluded and i % 3 == 1 else None,
            )
        )
    Business.objects.bulk_create(rows, batch_size=5000)
    ids = list(Business.objects.order_by("pk").values_list("pk", flat=True))
    Site.objects.bulk_create(
        [Site(slug=f"bench-site-{pk}", business_id=pk) for pk in ids[:leads:3]],
        batch_size=5000,
    )
    # A realistic suppression list (addresses not in this audience, and one domain).
    Suppression.objects.bulk_create(
        [Suppression(kind="email", value=f"gone{i}@elsewhere.example", reason="bench")
         for i in range(5000)]
        + [Suppression(kind="domain", value="spamtrap.example", reason="bench")],
        ignore_conflicts=True,
    )  # fmt: skip
    return len(ids)


def _ours(n: int) -> tuple[float, int]:
    from campaigns import services
    from campaigns.models import Message

    campaign = services.campaign_create(
        name=f"bench {n}",
        audience_query="city=Austin",
        subject_template="Hi {{ business_name }}",
        body_template="Body {{ preview_url }}",
        send_rate_per_minute=1000,
        daily_cap=100_000,
    )
    start = time.perf_counter()
    services.campaign_start(campaign=campaign)  # autocommit: on_commit dispatches at once
    seconds = time.perf_counter() - start
    count = Message.objects.filter(campaign=campaign).count()
    return seconds, count


def _anchor(n: int) -> tuple[float, int]:
    from campaigns.models import Campaign

    campaign = Campaign.objects.create(name=f"anchor {n}")
    conn = common.raw_connection()
    start = time.perf_counter()
    with conn.transaction():
        cur = conn.execute(ANCHOR_SQL, (campaign.pk,))
        rows = cur.rowcount
    seconds = time.perf_counter() - start
    conn.close()
    return seconds, rows


def _clear() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("TRUNCATE campaigns_message, django_q_ormq, django_q_task CASCADE")
        cur.execute("DELETE FROM campaigns_campaign")
        cur.execute("VACUUM ANALYZE campaigns_message")


def run(leads: int = 100_000, repeat: int = 3) -> dict:
    from django.db import connection

    common.require_postgres()
    original = connection.settings_dict["NAME"]
    try:
        common.reset_database(BENCH_DB)
        world = _world(leads)
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        ours, anchor = [], []
        ours_rows = anchor_rows = 0
        for _ in range(repeat):  # alternate, so cache warmth favours neither side
            _clear()
            seconds, anchor_rows = _anchor(leads)
            anchor.append(seconds)
            _clear()
            seconds, ours_rows = _ours(leads)
            ours.append(seconds)
        ours_s, anchor_s = statistics.median(ours), statistics.median(anchor)
        result = {
            "leads_in_world": world,
            "recipients": ours_rows,
            "anchor_rows": anchor_rows,
            "ours_seconds": round(ours_s, 3),
            "anchor_seconds": round(anchor_s, 3),
            "ours_all": [round(s, 3) for s in ours],
            "anchor_all": [round(s, 3) for s in anchor],
            "ratio": round(ours_s / anchor_s, 2) if anchor_s else 0.0,
            "messages_per_second": round(ours_rows / ours_s) if ours_s else 0,
            "target_ratio": 2.0,
            "machine": common.machine(),
        }
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
    common.write_result("campaign_start", result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.campaign_start")
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    common.setup_django()
    r = run(args.leads, args.repeat)
    print(f"{'recipients':>10} {'ours s':>8} {'anchor s':>9} {'ratio':>6} {'msg/s':>8}")
    print(
        f"{r['recipients']:>10} {r['ours_seconds']:>8} {r['anchor_seconds']:>9} "
        f"{r['ratio']:>6} {r['messages_per_second']:>8}"
    )


if __name__ == "__main__":
    main()
