from django.urls import path

from crm import views, views_inbox

app_name = "crm"

# `crm:dashboard` (/admin/crm/) is routed by webmagic/urls.py into this namespace: the
# dashboard shows billing revenue, and crm imports nothing downstream.
urlpatterns = [
    path("leads/", views.lead_list, name="lead-list"),
    path("leads/export.csv", views.lead_export, name="lead-export"),
    path("leads/count/", views.lead_count, name="lead-count"),
    path("leads/bulk/status/", views.lead_bulk_status, name="lead-bulk-status"),
    path("leads/bulk/assign/", views.lead_bulk_assign, name="lead-bulk-assign"),
    path("leads/views/", views.saved_view_create, name="saved-view-create"),
    path("leads/views/<int:pk>/delete/", views.saved_view_delete, name="saved-view-delete"),
    path("leads/<int:pk>/", views.lead_detail, name="lead-detail"),
    path("leads/<int:pk>/status/", views.lead_status_set, name="lead-status"),
    path("leads/<int:pk>/note/", views.lead_note_add, name="lead-note"),
    path("leads/<int:pk>/do-not-contact/", views.lead_do_not_contact, name="lead-do-not-contact"),
    path("leads/<int:pk>/assign/", views.lead_assign, name="lead-assign"),
    path("pipeline/", views.pipeline, name="pipeline"),
    path("inbox/", views_inbox.inbox_list, name="inbox"),
    path("inbox/<int:pk>/replay/", views_inbox.inbox_replay, name="inbox-replay"),
]
