"""Outreach URLs: campaign builder, list, results, actions, and the public unsubscribe page."""

from django.urls import path

from campaigns import views

urlpatterns = [
    path("admin/crm/campaigns/", views.campaign_list, name="campaign-list"),
    path("admin/crm/campaigns/new/", views.campaign_new, name="campaign-new"),
    path("admin/crm/campaigns/preview/", views.campaign_preview, name="campaign-preview"),
    path("admin/crm/campaigns/<int:pk>/", views.campaign_detail, name="campaign-detail"),
    path(
        "admin/crm/campaigns/<int:pk>/<str:action>/",
        views.campaign_action,
        name="campaign-action",
    ),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
