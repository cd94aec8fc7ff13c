"""URL map. Staff pages live under /admin/crm/, Django's raw admin under /admin/db/."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy

from campaigns.webhooks import ses_inbound, ses_tracking
from crm.urls import urlpatterns as crm_urlpatterns
from webmagic.api import api
from webmagic.views import dashboard

admin.site.site_header = "WebMagic raw data"
admin.site.site_url = reverse_lazy("crm:dashboard")

urlpatterns = [
    path("admin/db/", admin.site.urls),
    path("admin/crm/", include("webmagic.urls_staff")),
    # The dashboard joins the crm namespace from here: it shows billing revenue (crm must
    # not import billing).
    path(
        "admin/crm/",
        include(([path("", dashboard, name="dashboard"), *crm_urlpatterns], "crm")),
    ),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("sites.urls")),
    path("", include("campaigns.urls")),
    path("", include("billing.urls")),
    # Override of two of anymail's own URLs: its SES tracking and inbound views, wrapped in
    # campaigns' SNS body check (a malformed body is a 400, where anymail raises a 500 that
    # SNS would retry forever). They must stay above the anymail include, which serves the
    # same paths: the first match wins.
    path("anymail/amazon_ses/tracking/", ses_tracking, name="anymail-ses-tracking"),
    path("anymail/amazon_ses/inbound/", ses_inbound, name="anymail-ses-inbound"),
    path("anymail/", include("anymail.urls")),
    path("api/v1/", api.urls),
    path("", include("webmagic.site_urls")),
]
