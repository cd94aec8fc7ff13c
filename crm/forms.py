"""Forms of the staff lead pages. Validation here; writes go through crm.lifecycle."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from crm.models import ContactStatus, SavedView, WebsiteStatus

BLANK = [("", "— keep —")]


def staff_users():
    return get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")


class StatusForm(forms.Form):
    contact_status = forms.ChoiceField(
        choices=BLANK + list(ContactStatus.choices), required=False, label="Contact status"
    )
    website_status = forms.ChoiceField(
        choices=BLANK + list(WebsiteStatus.choices), required=False, label="Website status"
    )
    note = forms.CharField(max_length=500, required=False, label="Why (optional)")

    def clean(self):
        data = super().clean()
        if not data.get("contact_status") and not data.get("website_status"):
            raise forms.ValidationError("Pick a contact or website status to set.")
        return data


class NoteForm(forms.Form):
    text = forms.CharField(max_length=500, label="Note", widget=forms.Textarea(attrs={"rows": 3}))

    def clean_text(self):
        text = self.cleaned_data["text"].strip()
        if not text:
            raise forms.ValidationError("Write something first.")
        return text


class DoNotContactForm(forms.Form):
    reason = forms.CharField(max_length=200, required=False, label="Reason")


class AssignForm(forms.Form):
    owner = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="— nobody —", label="Owner"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = staff_users()


# Bulk forms share one <form> with the filter parameters, so their fields must not reuse
# filter names (`contact_status`, `owner`).
class BulkStatusForm(forms.Form):
    to_status = forms.ChoiceField(choices=ContactStatus.choices, label="Set status to")


class BulkAssignForm(forms.Form):
    to_owner = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="— nobody —", label="Assign to"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # What a submitted choice is checked against (the page's menu lists crm.sidebar's).
        self.fields["to_owner"].queryset = staff_users()


class SavedViewForm(forms.ModelForm):
    class Meta:
        model = SavedView
        fields = ["name", "params"]
        widgets = {"params": forms.HiddenInput}
        labels = {"name": "Save this view as"}

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the view a name.")
        return name
