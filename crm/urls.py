from django.urls import path

from crm import views, views_inbox

app_name = "crm"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("inbox/", views_inbox.inbox_list, name="inbox"),
    path("inbox/<int:pk>/replay/", views_inbox.inbox_replay, name="inbox-replay"),
]
