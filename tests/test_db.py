"""webmagic.db: psycopg's own timestamptz loader gives the ORM the same datetimes as
Django's."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from crm.models import Business
from crm.services import business_create
from webmagic.db import fast_timestamps

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _read():
    return list(
        Business.objects.order_by("pk").values_list(
            "created_at", "last_contacted_at", "do_not_contact_at"
        )
    )


def test_timestamps_read_the_same_with_psycopgs_loader():
    assert fast_timestamps in connection.execute_wrappers
    lead = business_create(data={"name": "Clock Co"}, source="test")
    moments = [
        datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 12, 0, tzinfo=UTC) + timedelta(hours=5, minutes=30),
    ]
    for i, moment in enumerate(moments):
        other = business_create(data={"name": f"Lead {i}"}, source="test")
        Business.objects.filter(pk=other.pk).update(
            created_at=moment, last_contacted_at=moment - timedelta(microseconds=1)
        )
    fast = _read()
    connection.execute_wrappers.remove(fast_timestamps)
    try:
        djangos = _read()
    finally:
        connection.execute_wrappers.append(fast_timestamps)
    assert fast == djangos
    assert fast[0][1] is None and lead.pk
    assert [row[0] for row in fast[1:]] == moments
    assert all(row[0].tzinfo is UTC for row in fast)
