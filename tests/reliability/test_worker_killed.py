"""3. A worker killed mid-campaign. A real `manage.py qcluster` (ORM broker, two worker
processes) sends a paced campaign; we `kill -9` either its whole process group or one worker
child while it sends, restart it, and prove: no lead received two messages, no message was
silently dropped (each one ends `sent`, or `unknown` when the kill caught it mid-send: it
is shown on the campaign page and never re-sent automatically), and the campaign
completes. The ORM broker redelivers the unacknowledged chunk tasks after Q_RETRY seconds,
and the dispatcher hands out again what a dead worker held (kept short here); each message
is claimed queued → sending before its provider call, so a redelivered chunk never re-sends
one, and a claim older than MESSAGE_SENDING_TIMEOUT becomes `unknown`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from campaigns import services
from campaigns.models import Campaign, CampaignStatus, Message, MessageStatus
from campaigns.results import campaign_results
from crm.services import business_create
from tests.qcluster import qcluster_kill, qcluster_spawn
from tests.smtp import LoopbackSMTP

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEADS = 16
RATE_PER_MINUTE = 300  # one message every 0.2 s: the kill lands mid-campaign
Q_TIMEOUT, Q_RETRY = 10, 12
SENDING_TIMEOUT = 12  # a claim older than this is `unknown` (MESSAGE_SENDING_TIMEOUT)
_extra_env: dict[str, str] = {}  # per-test overrides of the worker's environment


def _spawn(tmp_path: Path, run: int) -> tuple[subprocess.Popen, Path]:
    log_path = tmp_path / f"qcluster-{run}.log"
    proc = qcluster_spawn(
        log_path,
        Q_TIMEOUT=str(Q_TIMEOUT),
        Q_RETRY=str(Q_RETRY),
        MESSAGE_SENDING_TIMEOUT=str(SENDING_TIMEOUT),
        CAMPAIGN_CHUNK_SIZE="4",
        LOG_LEVEL="INFO",
        **_extra_env,
    )
    return proc, log_path


def _deliveries(tmp_path: Path) -> Counter:
    received: Counter = Counter()
    for f in (tmp_path / "mail").glob("*"):
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith("To: "):
                received[line[4:].strip()] += 1
    return received


def _wait(predicate, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n" + log.read_text()[-3000:])


def _campaign(monkeypatch) -> Campaign:
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)  # campaign_start enqueues to the ORM broker
    for i in range(LEADS):
        business_create(
            data={"name": f"Kill Lead {i}", "email": f"k{i}@kill{i}.com", "city": "Austin"},
            source="test",
        )
    campaign = services.campaign_create(
        name="killed mid-send",
        audience_query="city=Austin",
        subject_template="Hi {{ business_name }}",
        body_template="Body",
        send_rate_per_minute=RATE_PER_MINUTE,
    )
    services.campaign_start(campaign=campaign)
    return campaign


def _sent(campaign) -> int:
    return Message.objects.filter(campaign=campaign, status=MessageStatus.SENT).count()


def _assert_completed_without_doubles(campaign, tmp_path: Path, log: Path) -> None:
    def done():
        campaign.refresh_from_db()
        return campaign.status == CampaignStatus.COMPLETED

    _wait(done, Q_RETRY + SENDING_TIMEOUT + 40, "the campaign to complete after the restart", log)
    statuses = Counter(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert set(statuses) <= {MessageStatus.SENT, MessageStatus.UNKNOWN}, statuses
    assert sum(statuses.values()) == LEADS
    received = _deliveries(tmp_path)
    assert all(n == 1 for n in received.values()), f"a lead got two messages: {received}"
    sent_to = set(
        Message.objects.filter(campaign=campaign, status=MessageStatus.SENT).values_list(
            "to_address", flat=True
        )
    )
    assert sent_to <= set(received)  # every `sent` row really went out
    unknown = statuses.get(MessageStatus.UNKNOWN, 0)
    assert campaign_results(campaign)["messages"]["unknown"] == unknown  # surfaced, not hidden
    assert unknown <= 2  # at most one in flight per worker when it died
    if unknown:
        assert "unknown" in campaign.status_reason
    print(f"after restart: {dict(statuses)}, {len(received)} leads received one message each")


def test_kill_9_of_the_whole_qcluster_group_mid_campaign(tmp_path, monkeypatch):
    """SIGKILL to the qcluster process group (main, sentinel, pusher, monitor, workers) after
    a few sends; a fresh qcluster finishes the campaign without re-sending anything."""
    campaign = _campaign(monkeypatch)
    proc, log = _spawn(tmp_path, 1)
    try:
        _wait(lambda: _sent(campaign) >= 3, 30, "the first sends", log)
    finally:
        qcluster_kill(proc)
    killed_at = _sent(campaign)
    print(f"qcluster group killed after {killed_at} sends")
    assert killed_at < LEADS, "the kill came too late to prove anything"
    proc, log = _spawn(tmp_path, 2)
    try:
        _assert_completed_without_doubles(campaign, tmp_path, log)
        assert _sent(campaign) > killed_at  # the restart really sent the rest
    finally:
        qcluster_kill(proc)


def _worker_pids(log: Path) -> list[int]:
    return [int(p) for p in re.findall(r"ready for work at (\d+)", log.read_text())]


def _busy_worker(log: Path) -> int | None:
    """The pid of a worker that has started a chunk task (from the cluster's INFO log)."""
    text = log.read_text()
    pids = dict(re.findall(r"(Process-\w+) ready for work at (\d+)", text))
    busy = re.findall(r"(Process-\w+) processing campaign-", text)
    return int(pids[busy[-1]]) if busy and busy[-1] in pids else None


def test_kill_9_of_one_worker_process_mid_campaign(tmp_path, monkeypatch):
    """SIGKILL to one worker child while the cluster sends: the sentinel replaces it, the
    dead worker's chunk is redelivered, and the campaign completes with no double send."""
    campaign = _campaign(monkeypatch)
    proc, log = _spawn(tmp_path, 1)
    try:
        _wait(lambda: len(_worker_pids(log)) >= 2, 30, "two workers", log)
        _wait(lambda: _sent(campaign) >= 2 and _busy_worker(log), 30, "the first sends", log)
        os.kill(_busy_worker(log), signal.SIGKILL)
        killed_at = _sent(campaign)
        print(f"one worker killed after {killed_at} sends")
        assert killed_at < LEADS, "the kill came too late to prove anything"
        _wait(
            lambda: "reincarnated worker" in log.read_text() or len(_worker_pids(log)) > 2,
            20,
            "the sentinel to replace the worker",
            log,
        )
        assert proc.poll() is None  # the cluster itself survived
        _assert_completed_without_doubles(campaign, tmp_path, log)
    finally:
        qcluster_kill(proc)


def test_kill_9_of_the_group_while_a_worker_is_inside_the_smtp_call(tmp_path, monkeypatch):
    """The SMTP server holds the 4th message's DATA unanswered, so a worker is blocked inside
    the provider call when the whole qcluster group is killed. That message becomes
    `unknown` and is shown as such; it is never sent again after the restart (a possible
    double send is worse than a visible unknown row); every other lead gets exactly one
    message, and the campaign completes."""
    campaign = _campaign(monkeypatch)
    server = LoopbackSMTP(stall_at=4)
    monkeypatch.setattr(sys.modules[__name__], "_extra_env", server.env())
    try:
        proc, log = _spawn(tmp_path, 1)
        try:
            _wait(lambda: server.stalled_rcpt is not None, 30, "the stalled send", log)
            time.sleep(0.3)
        finally:
            qcluster_kill(proc)
        stalled = Message.objects.get(campaign=campaign, to_address=server.stalled_rcpt)
        assert stalled.status == MessageStatus.SENDING  # claimed, inside the provider call
        server.stall_at = None  # the restarted cluster meets a healthy server
        proc, log = _spawn(tmp_path, 2)
        try:

            def done():
                campaign.refresh_from_db()
                return campaign.status == CampaignStatus.COMPLETED

            _wait(
                done, Q_RETRY + SENDING_TIMEOUT + 40, "the campaign to complete after restart", log
            )
        finally:
            qcluster_kill(proc)
        stalled.refresh_from_db()
        assert stalled.status == MessageStatus.UNKNOWN  # never re-sent
        assert server.accepted[server.stalled_rcpt] == 0
        assert all(n == 1 for n in server.accepted.values()), server.accepted
        statuses = Counter(
            Message.objects.filter(campaign=campaign).values_list("status", flat=True)
        )
        assert set(statuses) <= {MessageStatus.SENT, MessageStatus.UNKNOWN}, statuses
        assert statuses[MessageStatus.SENT] == len(server.accepted)
        assert statuses[MessageStatus.UNKNOWN] == LEADS - len(server.accepted)
        assert 1 <= statuses[MessageStatus.UNKNOWN] <= 2
        assert campaign_results(campaign)["messages"]["unknown"] == statuses[MessageStatus.UNKNOWN]
        print(f"SMTP stall kill: {dict(statuses)}; unknown one: {server.stalled_rcpt}")
    finally:
        server.close()
