"""The few URLs that belong to no app: the home page, the favicon and the health check."""

from django.urls import path

from webmagic import views

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", views.healthz, name="healthz"),
]
