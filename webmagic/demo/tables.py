"""Rows written in bulk, one Table per model: COPY on PostgreSQL, bulk_create elsewhere.

Ids are assigned here (from the highest existing id), so rows can point at each other before
they are written, and the same seed gives the same ids.
"""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Any

from django.db import connection, models

from webmagic import sql


def next_id(model: type[models.Model]) -> int:
    return (model.objects.aggregate(m=models.Max("pk"))["m"] or 0) + 1


class Table:
    """Rows for one model, as {attname: value}; an omitted field takes what Django would
    store for it (None, "" or the field's default). JSON fields take Python values."""

    def __init__(self, model: type[models.Model], start_id: int):
        self.model = model
        # Generated columns (Business.has_email) are the database's to write.
        self.fields = [f for f in model._meta.concrete_fields if not f.generated]
        self.names = [f.attname for f in self.fields]
        self.json_at = [i for i, f in enumerate(self.fields) if isinstance(f, models.JSONField)]
        self.defaults = {f.attname: f.get_default() for f in self.fields if not f.primary_key}
        self.next_id = start_id
        self.rows: list[dict[str, Any]] = []

    def add(self, **values: Any) -> int:
        pk = self.reserve()
        self.put(pk, values)
        return pk

    def reserve(self) -> int:
        """An id for a row added later with put() (rows that others point at first)."""
        pk = self.next_id
        self.next_id += 1
        return pk

    def put(self, pk: int, row: dict[str, Any]) -> None:
        row["id"] = pk
        self.rows.append(row)

    def take(self) -> list[dict[str, Any]]:
        rows, self.rows = self.rows, []
        return rows

    def flush(self) -> None:
        rows = self.take()
        if not rows:
            return
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            self.copy(connection.connection, rows)
        else:
            objs = [self.model(**{**self.defaults, **row}) for row in rows]
            self.model.objects.bulk_create(objs, batch_size=500)

    def copy(self, raw, rows: list[dict[str, Any]]) -> None:
        """COPY `rows` through `raw`, the psycopg connection of the build's transaction
        (called from the writer thread while the next chunk is generated)."""
        if not rows:
            return
        defaults = {n: self.defaults.get(n) for n in self.names}
        getter, json_at = itemgetter(*self.names), self.json_at

        def values(row: dict[str, Any]) -> list[Any]:
            found = list(getter({**defaults, **row}))
            for i in json_at:
                found[i] = json.dumps(found[i])
            return found

        sql.demo_copy(raw, self.model, self.fields, (values(row) for row in rows))


def copy_batch(raw, batch: list[tuple[Table, list[dict[str, Any]]]]) -> None:
    for table, rows in batch:
        table.copy(raw, rows)
