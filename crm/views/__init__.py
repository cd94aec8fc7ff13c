"""Staff CRM pages under /admin/crm/ (the dashboard lives in webmagic: it shows revenue)."""

from crm.views.detail import (
    lead_assign,
    lead_detail,
    lead_do_not_contact,
    lead_note_add,
    lead_status_set,
)
from crm.views.leads import (
    lead_bulk_assign,
    lead_bulk_status,
    lead_count,
    lead_export,
    lead_list,
    saved_view_create,
    saved_view_delete,
)
from crm.views.pipeline import pipeline

__all__ = [
    "lead_assign",
    "lead_bulk_assign",
    "lead_bulk_status",
    "lead_count",
    "lead_detail",
    "lead_do_not_contact",
    "lead_export",
    "lead_list",
    "lead_note_add",
    "lead_status_set",
    "pipeline",
    "saved_view_create",
    "saved_view_delete",
]
