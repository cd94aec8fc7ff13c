from django.urls import path

from sites import views

app_name = "sites"

urlpatterns = [
    path("p/<slug:slug>/", views.preview, name="preview"),
]
