"""The authentication backend: Django's ModelBackend, loading the request's user with one
plain query that also reads the user's role.

ModelBackend.get_user runs an ORM `get()` on every request, and a sales user's role check
(crm.permissions.can_edit) used to cost a second query on every page.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connections, router

from crm.permissions import SALES_GROUP, remember_sales


class StaffBackend(ModelBackend):
    def get_user(self, user_id):
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        using = router.db_for_read(model)
        connection = connections[using]
        qn = connection.ops.quote_name
        fields = model._meta.concrete_fields
        groups = model._meta.get_field("groups")  # the membership table and its two columns
        member, group = qn(groups.m2m_column_name()), qn(groups.m2m_reverse_name())
        user_pk, group_pk = qn(model._meta.pk.column), qn(Group._meta.pk.column)
        columns = ", ".join(f"u.{qn(f.column)}" for f in fields)
        sql = (
            f"SELECT {columns}, EXISTS (SELECT 1 FROM {qn(groups.m2m_db_table())} m "
            f"JOIN {qn(Group._meta.db_table)} g ON g.{group_pk} = m.{group} "
            f"WHERE m.{member} = u.{user_pk} AND g.{qn('name')} = %s) "
            f"FROM {qn(model._meta.db_table)} u WHERE u.{user_pk} = %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [SALES_GROUP, pk])
            row = cursor.fetchone()
        if row is None:
            return None
        *stored, is_sales = row
        values = [_from_db(f, v, connection) for f, v in zip(fields, stored, strict=True)]
        user = model.from_db(using, [f.attname for f in fields], values)
        remember_sales(user, bool(is_sales))
        return user if self.user_can_authenticate(user) else None


def _from_db(field, value, connection):
    """A column value as the ORM would return it: the backend's and the field's converters
    (SQLite, for one, stores datetimes as text)."""
    col = field.get_col(field.model._meta.db_table)
    for convert in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
        value = convert(value, col, connection)
    return value
