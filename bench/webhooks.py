"""Benchmark: webhook throughput under concurrent load, next to its anchors in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wm_events .venv/bin/python \
        -m bench.webhooks [--seconds 10] [--rounds 3] [--connections 8] [--workers 8]

Serves the app with gunicorn on 127.0.0.1 (its own database, wm_bench_webhooks, dropped and
migrated each run; DEBUG off) and loads it with wrk (Debian's `wrk`) from the same machine.
Every endpoint runs for the same bounded time with the same connections, in interleaved rounds:

- anchor `trivial`: a Django view that returns "ok" (the ceiling of the stack);
- anchor `bare_sql`: a Django view that runs the bare SQL transaction an event needs (inbox
  INSERT … ON CONFLICT, a conditional message UPDATE, a conditional lead UPDATE) on the same
  SES body;
- `ses_tracking`: SES "Open" notifications through anymail (basic auth, SNS header checks)
  → inbox → applied (opened_count, opened_at, lead `opened`, timeline), each with a fresh
  SNS MessageId, spread over `--messages` messages;
- `twilio_status`: signed Twilio status callbacks (`sent`, then `delivered`) for distinct
  messages (signatures pre-computed with twilio's RequestValidator).

After each run the database is checked: every 2xx response's event is stored and processed
(none lost), and counters equal the number of stored events (none applied twice).
Goal (issue 5): each webhook endpoint ≥ half the bare-SQL view's rate (ratios per round,
each against the anchor measured just before it), none lost or applied twice.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import common

BENCH_DB = "wm_bench_webhooks"
HOST = "127.0.0.1"
AUTH_USER_PASS = "bench:webhook-secret"
TWILIO_TOKEN = "bench-twilio-token"  # noqa: S105 (a local benchmark secret)
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "fixtures" / "providers"  # provenance: its README.md

# --- the anchor views (served by gunicorn from this module, see `application`) ----------------

ANCHOR_SQL = (
    "INSERT INTO crm_providerevent (provider, event_id, event_type, payload, status,"
    " received_at, occurred_at, processed_at, attempts, error)"
    " VALUES ('sandbox', %s, 'anchor', %s, 'processed', now(), now(), now(), 1, '')"
    " ON CONFLICT (provider, event_id) DO NOTHING RETURNING id",
    "UPDATE campaigns_message SET opened_count = opened_count + 1,"
    " opened_at = LEAST(COALESCE(opened_at, now()), now()) WHERE provider_message_id = %s"
    " RETURNING business_id",
    "UPDATE crm_business SET contact_status = 'opened', contact_status_changed_at = now(),"
    " updated_at = now() WHERE id = %s AND contact_status IN ('pending', 'emailed', 'texted')",
)


def _trivial(request):
    from django.http import HttpResponse

    return HttpResponse("ok")


def _bare_sql(request):
    from django.db import connection, transaction
    from django.http import HttpResponse

    sns = json.loads(request.body)
    inner = json.loads(sns["Message"])
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(ANCHOR_SQL[0], [sns["MessageId"], json.dumps(sns)])
        if cur.fetchone():
            cur.execute(ANCHOR_SQL[1], [inner["mail"]["messageId"]])
            row = cur.fetchone()
            if row:
                cur.execute(ANCHOR_SQL[2], [row[0]])
    return HttpResponse("ok")


def __getattr__(name: str):
    """`urlpatterns` for ROOT_URLCONF=bench.webhooks, built lazily (after django.setup())."""
    if name != "urlpatterns":
        raise AttributeError(name)
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    return [
        path("bench/trivial/", csrf_exempt(_trivial)),
        path("bench/bare-sql/", csrf_exempt(_bare_sql)),
        path("", include("webmagic.urls")),
    ]


def make_app():
    """The WSGI app gunicorn serves (`bench.webhooks:make_app()` with --preload, so every
    worker forks ready): the project plus the two anchor views."""
    import django
    from django.conf import settings

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmagic.settings")
    django.setup(set_prefix=False)
    settings.ROOT_URLCONF = "bench.webhooks"
    from django.core.handlers.wsgi import WSGIHandler
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (import every view before forking)
    return WSGIHandler()


# --- world ------------------------------------------------------------------------------------


def _seed(*, leads: int, ses_messages: int, sms_messages: int) -> None:
    """Leads that were emailed/texted and their sent messages (bulk: set-up, not measured)."""
    from django.utils import timezone

    from campaigns.models import Message
    from crm.models import Business

    now = timezone.now()
    Business.objects.bulk_create(
        [
            Business(
                name=f"Bench lead {i}",
                slug=f"bench-lead-{i}",
                email=f"lead{i}@bench.example",
                phone=f"+1512555{i:04d}",
                phone_normalized=f"+1512555{i:04d}",
                contact_status="emailed",
                furthest_contact_status="emailed",
                last_contacted_at=now,
            )
            for i in range(leads)
        ],
        batch_size=2000,
    )
    ids = list(Business.objects.order_by("pk").values_list("pk", flat=True))

    def sent_emails(id_prefix: str, token_prefix: str) -> list:
        return [
            Message(
                business_id=ids[k % len(ids)],
                channel="email",
                to_address=f"lead{k % len(ids)}@bench.example",
                status="sent",
                sent_at=now,
                provider_message_id=f"{id_prefix}{k}",
                token=f"{token_prefix}{k}",
            )
            for k in range(ses_messages)
        ]

    rows = (
        sent_emails("bench-ses-", "ses")
        + sent_emails("bench-anchor-", "anchor")
        + [
            Message(
                business_id=ids[k % len(ids)],
                channel="sms",
                to_address=f"+1512555{k % len(ids):04d}",
                status="sending",
                provider_message_id=f"SMbench{k}",
                token=f"sms{k}",
            )
            for k in range(sms_messages)
        ]
    )
    Message.objects.bulk_create(rows, batch_size=5000)


# --- load -------------------------------------------------------------------------------------


def _lua_str(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def ses_template() -> tuple[str, str, str]:
    """The SES Open sample split around its SNS MessageId and its SES messageId."""
    sns = json.loads((SAMPLES / "ses_open.json").read_text())
    inner = json.loads(sns["Message"])
    inner["mail"]["messageId"] = "@@MID@@"
    sns["MessageId"] = "@@SNS@@"
    sns["Message"] = json.dumps(inner) + "\n"
    body = json.dumps(sns)
    p1, rest = body.split("@@SNS@@")
    p2, p3 = rest.split("@@MID@@")
    return p1, p2, p3


def ses_script(path: str, messages: int, nonce: str, prefix: str = "bench-ses-") -> str:
    import base64

    p1, p2, p3 = ses_template()
    auth = "Basic " + base64.b64encode(AUTH_USER_PASS.encode()).decode()
    return f"""
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
local counter = 0
local P1, P2, P3 = {_lua_str(p1)}, {_lua_str(p2)}, {_lua_str(p3)}
request = function()
  counter = counter + 1
  local id = "{nonce}-" .. tid .. "-" .. counter
  local k = (counter * 7919 + tid * 104729) % {messages}
  local body = P1 .. id .. P2 .. "{prefix}" .. k .. P3
  return wrk.format("POST", "{path}", {{
    ["Content-Type"] = "text/plain; charset=UTF-8",
    ["x-amz-sns-message-type"] = "Notification",
    ["x-amz-sns-message-id"] = id,
    ["Authorization"] = {_lua_str(auth)},
  }}, body)
end
"""


def twilio_data(base_url: str, count: int, data_file: str) -> None:
    """Pre-signed status callbacks, one per line of `data_file`: message k gets `sent` then
    `delivered`; thread t takes every t-th line, so no request repeats until the list ends."""
    from urllib.parse import urlencode

    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TWILIO_TOKEN)
    url = base_url + "/webhooks/twilio/status/"
    with open(data_file, "w") as fh:
        for i in range(count):
            k, status = divmod(i, 2)
            params = {
                "MessageSid": f"SMbench{k}",
                "SmsSid": f"SMbench{k}",
                "MessageStatus": "sent" if status == 0 else "delivered",
                "To": f"+1512555{k % 10000:04d}",
                "From": "+15125550999",
                "AccountSid": "ACbench",
                "ApiVersion": "2010-04-01",
            }
            fh.write(f"{urlencode(params)}\t{validator.compute_signature(url, params)}\n")


def twilio_script(data_file: str, threads: int, offset: int) -> str:
    """Thread t of the load takes lines offset+t, offset+t+threads, …"""
    return f"""
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
local B, S = {{}}, {{}}
function init(args)
  for line in io.lines({_lua_str(data_file)}) do
    local body, sig = line:match("([^\t]*)\t(.*)")
    B[#B + 1] = body
    S[#S + 1] = sig
  end
end
local counter = 0
request = function()
  local i = ({offset} + (tid - 1) + counter * {threads}) % #B + 1
  counter = counter + 1
  return wrk.format("POST", "/webhooks/twilio/status/", {{
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = S[i],
  }}, B[i])
end
"""


def trivial_script(path: str) -> str:
    return f'wrk.method = "GET"\nwrk.path = "{path}"\n'


def bare_sql_script(messages: int, nonce: str) -> str:
    return ses_script("/bench/bare-sql/", messages, nonce + "-anchor", "bench-anchor-")


WRK_LINE = re.compile(r"(\d+) requests in ([\d.]+)(m?s)")
NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
SOCKET_ERR = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
LATENCY = re.compile(r"Latency\s+([\d.]+)(us|ms|s)")


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_run(url: str, script: str, *, seconds: int, connections: int, threads: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
        lua = fh.name
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                lua,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        os.unlink(lua)
    m = WRK_LINE.search(out)
    requests, elapsed = int(m.group(1)), float(m.group(2)) * (1 if m.group(3) == "s" else 60)
    non2xx = int(NON_2XX.search(out).group(1)) if NON_2XX.search(out) else 0
    errors = [int(x) for x in SOCKET_ERR.search(out).groups()] if SOCKET_ERR.search(out) else []
    lat = LATENCY.search(out)
    return {
        "requests": requests,
        "seconds": round(elapsed, 2),
        "rps": round(requests / elapsed),
        "non_2xx": non2xx,
        "socket_errors": sum(errors),
        "latency_avg_ms": round(_ms(*lat.groups()), 2) if lat else None,
    }


# --- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(*, port: int, workers: int, threads: int) -> subprocess.Popen:
    from django.db import connection

    db = connection.settings_dict
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="webmagic.settings",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{BENCH_DB}",
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-not-for-production-use-0123456789",
        ALLOWED_HOSTS=HOST,
        PUBLIC_BASE_URL=f"http://{HOST}:{port}",
        ANYMAIL_WEBHOOK_SECRET=AUTH_USER_PASS,
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        LOG_LEVEL="ERROR",
    )
    if db.get("PASSWORD"):
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{BENCH_DB}"
        )
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    cmd = [gunicorn, "bench.webhooks:make_app()", "--preload", "-b", f"{HOST}:{port}"]
    cmd += ["-w", str(workers)]
    if threads > 1:
        cmd += ["-k", "gthread", "--threads", str(threads)]
    cmd += ["--log-level", "warning", "--timeout", "60"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/bench/trivial/", timeout=5):
                return proc
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    raise RuntimeError("gunicorn did not start")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


# --- checks -----------------------------------------------------------------------------------


def check_ses(responses_2xx: int) -> dict:
    from django.db.models import Count, Q, Sum

    from campaigns.models import Message
    from crm.models import LeadEvent, ProviderEvent

    events = ProviderEvent.objects.filter(provider="anymail").aggregate(
        stored=Count("pk"), processed=Count("pk", filter=Q(status="processed"))
    )
    ours = Message.objects.filter(provider_message_id__startswith="bench-ses-")
    opened = ours.aggregate(n=Sum("opened_count"))["n"] or 0
    timeline = LeadEvent.objects.filter(kind="opened").count()
    return {
        **events,
        "responses_2xx": responses_2xx,
        "opened_count_sum": opened,
        "timeline_rows": timeline,
        "lost": max(0, responses_2xx - events["processed"]),
        "double_applied": opened - events["processed"],
        "ok": events["processed"] >= responses_2xx
        and opened == events["processed"] == timeline
        and events["stored"] == events["processed"],
    }


def check_twilio(responses_2xx: int, distinct_bodies: int) -> dict:
    from django.db.models import Count, Q

    from campaigns.models import Message
    from crm.models import LeadEvent, ProviderEvent

    events = ProviderEvent.objects.filter(provider="twilio").aggregate(
        stored=Count("pk"),
        processed=Count("pk", filter=Q(status="processed")),
        delivered=Count("pk", filter=Q(event_type="status:delivered", status="processed")),
        sent=Count("pk", filter=Q(event_type="status:sent", status="processed")),
    )
    delivered_rows = Message.objects.filter(channel="sms", delivered_at__isnull=False).count()
    timeline_delivered = LeadEvent.objects.filter(kind="message_delivered").count()
    timeline_sent = LeadEvent.objects.filter(kind="message_sent").count()
    expected_min = min(responses_2xx, distinct_bodies)
    return {
        **events,
        "responses_2xx": responses_2xx,
        "distinct_bodies": distinct_bodies,
        "messages_delivered": delivered_rows,
        "lost": max(0, expected_min - events["processed"]),
        "double_applied": (timeline_delivered - events["delivered"])
        + (timeline_sent - events["sent"]),
        "ok": events["processed"] >= expected_min
        and events["stored"] == events["processed"]
        and delivered_rows == events["delivered"] == timeline_delivered
        and timeline_sent == events["sent"],
    }


def check_anchor(responses_2xx: int) -> dict:
    from crm.models import ProviderEvent

    stored = ProviderEvent.objects.filter(provider="sandbox").count()
    return {"stored": stored, "responses_2xx": responses_2xx, "ok": stored >= responses_2xx}


# --- per-request cost, in process -------------------------------------------------------------


def profile_requests(*, messages: int, sms_messages: int, n: int = 100) -> dict:
    """Sequential requests through Django's test client on the bench database: SQL statements,
    transactions (commits) and milliseconds per request. Explains the load figures: under
    contention a request costs roughly its round trips."""
    import base64
    import uuid
    from urllib.parse import urlencode

    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from twilio.request_validator import RequestValidator

    settings.ROOT_URLCONF = "bench.webhooks"
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": AUTH_USER_PASS}
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.PUBLIC_BASE_URL = "http://testserver"
    settings.DEBUG = False
    client = Client()
    p1, p2, p3 = ses_template()
    auth = "Basic " + base64.b64encode(AUTH_USER_PASS.encode()).decode()
    validator = RequestValidator(TWILIO_TOKEN)

    def ses(path: str, prefix: str, i: int):
        sns_id = f"profile-{uuid.uuid4()}"
        body = p1 + sns_id + p2 + f"{prefix}{(messages - 1 - i) % messages}" + p3
        return client.post(
            path,
            data=body.encode(),
            content_type="text/plain; charset=UTF-8",
            HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
            HTTP_X_AMZ_SNS_MESSAGE_ID=sns_id,
            HTTP_AUTHORIZATION=auth,
        )

    def twilio(i: int):
        k = sms_messages - 1 - i
        params = {"MessageSid": f"SMbench{k}", "MessageStatus": "delivered", "To": "+15125550000"}
        sig = validator.compute_signature("http://testserver/webhooks/twilio/status/", params)
        return client.post(
            "/webhooks/twilio/status/",
            data=urlencode(params),
            content_type="application/x-www-form-urlencoded",
            HTTP_X_TWILIO_SIGNATURE=sig,
        )

    requests = {
        "trivial": lambda i: client.get("/bench/trivial/"),
        "bare_sql": lambda i: ses("/bench/bare-sql/", "bench-anchor-", i),
        "ses_tracking": lambda i: ses("/anymail/amazon_ses/tracking/", "bench-ses-", i),
        "twilio_status": twilio,
    }
    counts = {"statements": 0, "commits": 0}

    def count(execute, sql, params, many, context):
        counts["statements"] += 1
        return execute(sql, params, many, context)

    real_commit = connection._commit

    def counting_commit():
        counts["commits"] += 1
        return real_commit()

    out: dict[str, dict] = {}
    connection._commit = counting_commit
    try:
        with connection.execute_wrapper(count):
            for name, call in requests.items():
                counts.update(statements=0, commits=0)
                start = time.perf_counter()
                for i in range(n):
                    status = call(i).status_code
                    assert status == 200, (name, status)
                elapsed = time.perf_counter() - start
                out[name] = {
                    "statements_per_request": round(counts["statements"] / n, 1),
                    "commits_per_request": round(counts["commits"] / n, 1),
                    "sequential_ms_per_request": round(elapsed / n * 1000, 2),
                }
    finally:
        connection._commit = real_commit
    return out


# --- run --------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def run(
    seconds: int = 10,
    connections: int = 8,
    wrk_threads: int = 2,
    workers: int = 8,
    gthreads: int = 1,
    rounds: int = 3,
    leads: int = 2000,
    messages: int = 20000,
    twilio_events: int = 100_000,
) -> dict:
    """Rounds of (trivial, bare_sql, ses_tracking, twilio_status), interleaved so a change in
    the machine's load hits every endpoint alike; medians and per-round ratios reported."""
    from django.db import connection

    common.require_postgres()
    original = connection.settings_dict["NAME"]
    proc = None
    try:
        common.reset_database(BENCH_DB)
        _seed(leads=leads, ses_messages=messages, sms_messages=twilio_events // 2)
        machine = common.machine()
        per_request = profile_requests(messages=messages, sms_messages=twilio_events // 2)
        connection.close()
        port = _free_port()
        base = f"http://{HOST}:{port}"
        proc = start_server(port=port, workers=workers, threads=gthreads)
        load = {"seconds": seconds, "connections": connections, "threads": wrk_threads}
        names = ("trivial", "bare_sql", "ses_tracking", "twilio_status")
        runs: dict[str, list[dict]] = {n: [] for n in names}
        with tempfile.TemporaryDirectory() as tmp:
            data = f"{tmp}/twilio.tsv"
            twilio_data(base, twilio_events, data)
            wrk_run(base, trivial_script("/bench/trivial/"), **{**load, "seconds": 2})  # warm
            offset = 0
            for r in range(rounds):
                nonce = f"r{int(time.time())}-{r}"
                runs["trivial"].append(wrk_run(base, trivial_script("/bench/trivial/"), **load))
                runs["bare_sql"].append(wrk_run(base, bare_sql_script(messages, nonce), **load))
                runs["ses_tracking"].append(
                    wrk_run(
                        base, ses_script("/anymail/amazon_ses/tracking/", messages, nonce), **load
                    )
                )
                runs["twilio_status"].append(
                    wrk_run(base, twilio_script(data, wrk_threads, offset), **load)
                )
                offset += runs["twilio_status"][-1]["requests"] + connections * 4
        stop_server(proc)  # waits for requests still in flight, so the counts are final
        proc = None
        ok2xx = {n: sum(x["requests"] - x["non_2xx"] for x in runs[n]) for n in names}
        checks = {
            "bare_sql": check_anchor(ok2xx["bare_sql"]),
            "ses_tracking": check_ses(ok2xx["ses_tracking"]),
            "twilio_status": check_twilio(ok2xx["twilio_status"], twilio_events),
        }
        results: dict[str, dict] = {}
        for n in names:
            rps = [x["rps"] for x in runs[n]]
            results[n] = {
                "rps_median": _median(rps),
                "rps_rounds": rps,
                "latency_avg_ms_rounds": [x["latency_avg_ms"] for x in runs[n]],
                "non_2xx": sum(x["non_2xx"] for x in runs[n]),
                "socket_errors": sum(x["socket_errors"] for x in runs[n]),
                "requests": sum(x["requests"] for x in runs[n]),
            }
            for anchor in ("trivial", "bare_sql"):
                if n in (anchor, "trivial"):
                    continue
                ratios = [
                    round(x["rps"] / a["rps"], 2) if a["rps"] else 0.0
                    for x, a in zip(runs[n], runs[anchor], strict=True)
                ]
                results[n].update({f"vs_{anchor}_rounds": ratios, f"vs_{anchor}": _median(ratios)})
            if n != "trivial":
                results[n]["check"] = checks[n]
        goal = all(
            results[n]["vs_bare_sql"] >= 0.5 and results[n]["check"]["ok"]
            for n in ("ses_tracking", "twilio_status")
        )
        result = {
            "setup": {
                "server": f"gunicorn -w {workers}"
                + (f" -k gthread --threads {gthreads}" if gthreads > 1 else " (sync)"),
                "load": f"wrk -t{wrk_threads} -c{connections} -d{seconds}s x {rounds} rounds",
                "leads": leads,
                "ses_messages": messages,
                "sms_messages": twilio_events // 2,
            },
            "results": results,
            "per_request_in_process": per_request,
            "goal": "each webhook endpoint >= 0.5x the bare-SQL view, none lost or doubled",
            "goal_met": goal,
            "machine": machine,
            "load_average": os.getloadavg(),
        }
    finally:
        if proc is not None:
            stop_server(proc)
        connection.close()
        connection.settings_dict["NAME"] = original
    common.write_result("webhooks", result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--gthreads", type=int, default=1, help=">1: gunicorn gthread workers")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--leads", type=int, default=2000, help="leads the messages are spread over"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install -y wrk")
    if args.seconds > 60 or args.connections > 256 or args.rounds > 10:
        raise SystemExit("keep it bounded: --seconds <= 60, --connections <= 256, --rounds <= 10")
    common.setup_django()
    r = run(
        seconds=args.seconds,
        connections=args.connections,
        wrk_threads=args.wrk_threads,
        workers=args.workers,
        gthreads=args.gthreads,
        rounds=args.rounds,
        leads=args.leads,
    )
    print(json.dumps(r["setup"]))
    print(f"{'endpoint':<15} {'req/s':>7} {'vs bare SQL':>11} {'rounds':>24} {'non-2xx':>8}  check")
    for name, row in r["results"].items():
        check = row.get("check", {})
        print(
            f"{name:<15} {row['rps_median']:>7} {row.get('vs_bare_sql', '—'):>11} "
            f"{str(row['rps_rounds']):>24} {row['non_2xx']:>8}  "
            + (
                f"ok={check.get('ok')} lost={check.get('lost', 0)} "
                f"doubled={check.get('double_applied', 0)}"
                if check
                else ""
            )
        )
    for name, row in r["per_request_in_process"].items():
        print(f"{name:<15} in process: {row}")
    print(f"goal met: {r['goal_met']}")


if __name__ == "__main__":
    main()
