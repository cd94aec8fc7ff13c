"""The campaign builder form (the audience filters come from the lead FilterSet itself)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone

from campaigns.models import Channel
from campaigns.sending import MERGE_FIELDS, template_errors

SMS_MAX = 640  # four SMS segments; longer texts cost more and read badly

DEFAULT_BODY = (
    "Hi {{ business_name }},\n\n"
    "We built a free preview of a new website for your {{ category }} business in "
    "{{ city }}: {{ preview_url }}\n\n"
    "If you like it, it can be live this week.\n"
)


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.EMAIL)
    subject_template = forms.CharField(
        max_length=300, required=False, label="Subject", initial="A website for {{ business_name }}"
    )
    body_template = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}), label="Body", initial=DEFAULT_BODY
    )
    schedule = forms.ChoiceField(
        choices=(("now", "Send now"), ("later", "Schedule")), initial="now"
    )
    scheduled_at = forms.DateTimeField(
        required=False,
        label="Send at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    send_rate_per_minute = forms.IntegerField(
        min_value=1, max_value=1000, initial=30, label="Messages per minute"
    )
    daily_cap = forms.IntegerField(min_value=1, max_value=100_000, initial=1000, label="Daily cap")
    override_cooldown = forms.BooleanField(
        required=False,
        label="Pitch leads in their contact cooldown anyway",
        help_text="Leads pitched by another campaign (or contacted) in the last "
        "CONTACT_COOLDOWN_DAYS are left out unless you tick this; the campaign records that "
        "you did.",
    )
    followup_after_days = forms.IntegerField(
        required=False, min_value=1, max_value=60, label="Follow-up after (days)"
    )
    followup_subject = forms.CharField(max_length=300, required=False, label="Follow-up subject")
    followup_body = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), label="Follow-up body"
    )

    merge_fields = MERGE_FIELDS

    def clean(self):
        data = super().clean()
        for name in ("subject_template", "body_template", "followup_subject", "followup_body"):
            for error in template_errors(data.get(name) or ""):
                self.add_error(name, error)
        channel = data.get("channel")
        if channel == Channel.EMAIL and not (data.get("subject_template") or "").strip():
            self.add_error("subject_template", "An email needs a subject.")
        if channel == Channel.SMS and len(data.get("body_template") or "") > SMS_MAX:
            self.add_error("body_template", f"Keep a text under {SMS_MAX} characters.")
        if data.get("schedule") == "later":
            at = data.get("scheduled_at")
            if at is None:
                self.add_error("scheduled_at", "Pick a date and time, or choose Send now.")
            elif at < timezone.now() - timedelta(minutes=1):
                self.add_error("scheduled_at", "That time has passed.")
        else:
            data["scheduled_at"] = None
        if data.get("followup_after_days") and not (data.get("followup_body") or "").strip():
            self.add_error("followup_body", "Write the follow-up, or leave its days empty.")
        return data

    def followups(self) -> list[dict]:
        data = self.cleaned_data
        if not data.get("followup_after_days"):
            return []
        return [
            {
                "after_days": data["followup_after_days"],
                "subject": data.get("followup_subject") or "",
                "body": data["followup_body"],
            }
        ]
