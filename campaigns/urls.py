"""campaigns URLs: outreach pages (campaign builder, list, results, unsubscribe) and the
provider-event endpoints (Twilio webhooks, tracked links, replies) live in two modules."""

from django.urls import include, path

app_name = "campaigns"

urlpatterns = [
    path("", include("campaigns.urls_outreach")),
    path("", include("campaigns.urls_events")),
]
