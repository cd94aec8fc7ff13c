"""Provider-event endpoints (Twilio webhooks), tracked links and replies.

anymail's own webhooks (`/anymail/<esp>/tracking/`, `/anymail/<esp>/inbound/`) are mounted in
webmagic/urls.py; their signals are received in campaigns/events.py.
"""

from django.urls import path

from campaigns import views_replies, webhooks

urlpatterns = [
    # anymail's SES views behind a body check (a malformed body is a 400, not a 500); these
    # paths come before the anymail include in webmagic/urls.py, so they take precedence.
    path("anymail/amazon_ses/tracking/", webhooks.ses_tracking, name="ses-tracking"),
    path("anymail/amazon_ses/inbound/", webhooks.ses_inbound, name="ses-inbound"),
    path("webhooks/twilio/status/", webhooks.twilio_status, name="twilio-status"),
    path("webhooks/twilio/inbound/", webhooks.twilio_inbound, name="twilio-inbound"),
    path("c/<str:token>/", views_replies.track_click, name="track-click"),
    path("admin/crm/replies/", views_replies.reply_list, name="reply-list"),
    path("admin/crm/replies/read/", views_replies.reply_mark_read, name="reply-mark-read"),
    path("admin/crm/leads/<int:pk>/sms-reply/", views_replies.sms_reply, name="sms-reply"),
]
