from django.urls import path

from sites import views

app_name = "sites"

urlpatterns = [
    path("p/<slug:slug>/", views.preview, name="preview"),
    path("p/<slug:slug>/claim/", views.claim, name="claim"),
    path("admin/crm/sites/generate/", views.generate, name="generate"),
]
