"""Django's database sessions, read with one plain query.

Every staff request loads its session; the ORM's `get()` (queryset, model instance) cost
as much as the query itself. Only the read is replaced: saving, expiry and the async
methods are Django's.
"""

from __future__ import annotations

from types import SimpleNamespace

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        key = self.session_key  # None when missing or malformed (Django validates it)
        if key:
            model = self.model
            connection = connections[router.db_for_read(model)]
            qn = connection.ops.quote_name
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {qn('session_data')} FROM {qn(model._meta.db_table)} "
                    f"WHERE {qn('session_key')} = %s AND {qn('expire_date')} > %s",
                    [key, timezone.now()],
                )
                row = cursor.fetchone()
            if row is not None:
                return SimpleNamespace(session_data=row[0])  # all that load() reads
        self._session_key = None
        return None
