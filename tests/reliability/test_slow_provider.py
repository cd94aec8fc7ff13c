"""8. A slow provider loses nothing. A real `manage.py qcluster` (ORM broker, two workers,
Q_TIMEOUT=40) sends a 60-recipient campaign through Django's SMTP backend to a loopback SMTP
server that takes 1 s per message: one chunk of 60 would need longer than the task timeout
(before, django-q killed the chunk after ~40 sends, left the rest queued behind the
dispatch window for ever and one message in `sending`). Now every chunk hands the rest back
within its budget: every message ends `sent`, each lead gets exactly one (counted at the
SMTP server), no task times out, and the campaign completes."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from campaigns import services
from campaigns.models import CampaignStatus, Message
from crm.services import business_create
from tests.qcluster import qcluster_kill, qcluster_spawn
from tests.smtp import LoopbackSMTP

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEADS = 60
PER_MESSAGE = 1.0  # seconds the SMTP server takes for each message
Q_TIMEOUT, Q_RETRY = 40, 45
DEADLINE = 110  # seconds: ~60 s of SMTP time, worker start-up and hand-offs


def test_a_provider_slower_than_the_task_timeout_loses_nothing_and_sends_nothing_twice(
    tmp_path, monkeypatch
):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)  # campaign_start enqueues to the ORM broker
    for i in range(LEADS):
        business_create(
            data={"name": f"Slow Lead {i}", "email": f"s{i}@slow{i}.com", "city": "Austin"},
            source="test",
        )
    campaign = services.campaign_create(
        name="behind a slow provider",
        audience_query="city=Austin",
        subject_template="Hi {{ business_name }}",
        body_template="Body",
        send_rate_per_minute=1000,
    )
    server = LoopbackSMTP(delay=PER_MESSAGE)
    log = tmp_path / "qcluster.log"
    proc = qcluster_spawn(
        log, Q_TIMEOUT=str(Q_TIMEOUT), Q_RETRY=str(Q_RETRY), LOG_LEVEL="INFO", **server.env()
    )
    started = time.monotonic()
    try:
        services.campaign_start(campaign=campaign)
        while time.monotonic() - started < DEADLINE:
            campaign.refresh_from_db()
            if campaign.status == CampaignStatus.COMPLETED:
                break
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        took = time.monotonic() - started
    finally:
        qcluster_kill(proc)
        server.close()
    statuses = Counter(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert campaign.status == CampaignStatus.COMPLETED, (statuses, log.read_text()[-3000:])
    assert statuses == {"sent": LEADS}
    assert len(server.accepted) == LEADS and set(server.accepted.values()) == {1}
    assert "after timeout" not in log.read_text()  # django-q killed no chunk
    print(f"{LEADS} messages at {PER_MESSAGE:.0f} s each, task timeout {Q_TIMEOUT} s: {took:.0f} s")
