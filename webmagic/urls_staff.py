"""Staff pages that compose several apps and live under /admin/crm/ without belonging to
the crm namespace: analytics (reads billing and campaigns) and API tokens."""

from django.urls import path

from webmagic import views_analytics, views_tokens

urlpatterns = [
    path("analytics/", views_analytics.analytics_page, name="analytics"),
    path("tokens/", views_tokens.token_list, name="api-tokens"),
    path("tokens/<int:pk>/revoke/", views_tokens.token_revoke_view, name="api-token-revoke"),
]
