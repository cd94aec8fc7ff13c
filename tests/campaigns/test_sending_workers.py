"""At most once per lead per campaign, with real concurrency: two workers on one chunk
(PostgreSQL), a worker that died mid-send, and real `qcluster` workers on the ORM broker
and on Redis."""

import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections
from django.utils import timezone

from campaigns import services, tasks
from campaigns.lifecycle import message_claim_for_sending
from campaigns.models import Campaign, CampaignStatus, Message, MessageStatus
from campaigns.results import campaign_results
from crm.services import business_create
from tests.qcluster import qcluster_spawn, qcluster_stop


def make_leads(n):
    return [
        business_create(
            data={"name": f"Worker Lead {i}", "email": f"w{i}@lead{i}.com", "city": "Austin"},
            source="test",
        )
        for i in range(n)
    ]


def queued_campaign(n=0, rate=6000):
    campaign = services.campaign_create(
        name="workers",
        audience_query="city=Austin",
        subject_template="Hi {{ business_name }}",
        body_template="Body",
        send_rate_per_minute=rate,
        scheduled_at=timezone.now() + timedelta(hours=1),
    )
    services.campaign_start(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    Message.objects.filter(campaign=campaign).update(send_after=timezone.now())
    return campaign


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_the_same_chunk_send_each_message_once():
    make_leads(40)
    campaign = queued_campaign()
    ids = list(Message.objects.filter(campaign=campaign).values_list("pk", flat=True))
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def worker():
        try:
            barrier.wait()
            outcomes.append(tasks.campaign_send_chunk(campaign.pk, ids))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sum(o.get("sent", 0) for o in outcomes) == 40
    assert len(mail.outbox) == 40
    assert len({tuple(e.to) for e in mail.outbox}) == 40
    assert Message.objects.filter(campaign=campaign, status=MessageStatus.SENT).count() == 40


@pytest.mark.django_db
def test_a_message_left_in_sending_is_never_resent_and_is_shown():
    make_leads(2)
    campaign = queued_campaign()
    stuck = Message.objects.filter(campaign=campaign).first()
    assert message_claim_for_sending(message=stuck)  # the worker died after claiming it
    tasks.campaigns_dispatch()
    tasks.campaign_send_chunk(campaign.pk, [stuck.pk])
    stuck.refresh_from_db()
    assert stuck.status == MessageStatus.SENDING
    assert len(mail.outbox) == 1  # only the other lead
    assert campaign_results(campaign)["stuck_sending"] == 1


def _spawn_qcluster(tmp_path, extra_env):
    log = tmp_path / "qcluster.log"
    return qcluster_spawn(log, **extra_env), log


def _run_with_worker(tmp_path, extra_env, n=12):
    make_leads(n)
    proc, log = _spawn_qcluster(tmp_path, extra_env)
    try:
        campaign = services.campaign_create(
            name="real worker",
            audience_query="city=Austin",
            subject_template="Hi {{ business_name }}",
            body_template="Body",
            send_rate_per_minute=6000,
        )
        services.campaign_start(campaign=campaign)  # commits; on_commit enqueues the chunks
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if not Message.objects.filter(
                campaign=campaign, status__in=["queued", "sending"]
            ).exists():
                break
            assert proc.poll() is None, (tmp_path / "qcluster.log").read_text()[-3000:]
            time.sleep(0.3)
        statuses = list(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
        assert statuses.count("sent") == n, (tmp_path / "qcluster.log").read_text()[-3000:]
        sent_files = list((tmp_path / "mail").glob("*.log"))
        recipients = []
        for f in sent_files:
            recipients += [
                line.split(":", 1)[1].strip()
                for line in f.read_text().splitlines()
                if line.startswith("To: ")
            ]
        assert sorted(recipients) == sorted(f"w{i}@lead{i}.com" for i in range(n))
    finally:
        qcluster_stop(proc)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_real_qcluster_on_the_orm_broker_sends_every_message_once(tmp_path, monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    _run_with_worker(tmp_path, {"REDIS_URL": ""})


def _redis_up(url):
    try:
        import redis

        return redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        return False


REDIS_TEST_URL = "redis://127.0.0.1:6379/9"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not _redis_up(REDIS_TEST_URL), reason="no Redis at 127.0.0.1:6379")
def test_real_qcluster_on_the_redis_broker_sends_every_message_once(tmp_path, monkeypatch):
    import redis
    from django_q.conf import Conf

    redis.from_url(REDIS_TEST_URL).delete(f"django_q:{Conf.CLUSTER_NAME}:q")
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", REDIS_TEST_URL)
    _run_with_worker(tmp_path, {"REDIS_URL": REDIS_TEST_URL})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_starts_create_each_message_once():
    make_leads(30)
    campaign = services.campaign_create(
        name="double click",
        audience_query="city=Austin",
        subject_template="s",
        body_template="b",
        scheduled_at=timezone.now() + timedelta(hours=1),
    )
    barrier = threading.Barrier(2)
    errors = []

    def start():
        try:
            barrier.wait()
            services.campaign_start(campaign=campaign.pk)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert Message.objects.filter(campaign=campaign).count() == 30
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SCHEDULED


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_real_qcluster_generates_missing_sites_and_sends_the_first_pitch_within_30_s(
    tmp_path, monkeypatch
):
    """The default body links {{ preview_url }} and none of the ten leads has a site: the
    worker generates each site, and each pitch goes as soon as its site is ready."""
    from django_q.conf import Conf

    from campaigns.forms import DEFAULT_BODY

    monkeypatch.setattr(Conf, "SYNC", False)
    for i in range(10):
        business_create(
            data={"name": f"Site Lead {i}", "email": f"s{i}@site{i}.com", "city": "Austin",
                  "category": "Plumber"},
            source="test",
        )  # fmt: skip
    proc, log = _spawn_qcluster(tmp_path, {"REDIS_URL": ""})
    try:
        time.sleep(3)  # the cluster's start-up is not the campaign's
        campaign = services.campaign_create(
            name="needs sites",
            audience_query="city=Austin",
            subject_template="A website for {{ business_name }}",
            body_template=DEFAULT_BODY,
            send_rate_per_minute=6000,
        )
        started = services.campaign_start(campaign=campaign).started_at
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            campaign.refresh_from_db()
            if campaign.status == CampaignStatus.COMPLETED:
                break
            assert proc.poll() is None, (tmp_path / "qcluster.log").read_text()[-3000:]
            time.sleep(0.3)
        messages = Message.objects.filter(campaign=campaign)
        assert campaign.status == CampaignStatus.COMPLETED, (tmp_path / "qcluster.log").read_text()
        assert list(messages.values_list("status", flat=True)) == ["sent"] * 10
        first = min(messages.values_list("sent_at", flat=True))
        print(f"first pitch {(first - started).total_seconds():.1f} s after the start")
        assert (first - started).total_seconds() < 30
        bodies = "".join(f.read_text() for f in (tmp_path / "mail").glob("*.log"))
        for m in messages:
            assert m.site_id is not None
            assert f"https://crm.example.com/c/{m.token}/" in bodies
    finally:
        qcluster_stop(proc)
