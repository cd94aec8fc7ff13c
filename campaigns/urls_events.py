"""Provider-event endpoints (Twilio webhooks), tracked links and replies.

anymail's own webhooks (`/anymail/<esp>/tracking/`, `/anymail/<esp>/inbound/`) are mounted in
webmagic/urls.py, with our override of the SES ones; their signals are received in
campaigns/events.py.
"""

from django.urls import path

from campaigns import views_replies, webhooks

urlpatterns = [
    path("webhooks/twilio/status/", webhooks.twilio_status, name="twilio-status"),
    path("webhooks/twilio/inbound/", webhooks.twilio_inbound, name="twilio-inbound"),
    path("c/<str:token>/", views_replies.track_click, name="track-click"),
    path("admin/crm/replies/", views_replies.reply_list, name="reply-list"),
    path("admin/crm/replies/read/", views_replies.reply_mark_read, name="reply-mark-read"),
    path("admin/crm/leads/<int:pk>/sms-reply/", views_replies.sms_reply, name="sms-reply"),
]
