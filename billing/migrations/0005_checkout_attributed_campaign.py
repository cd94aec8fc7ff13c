"""Checkout.campaign: the campaign a checkout is credited to, stored when it is created
(billing/attribution.py). Existing checkouts keep the message they were created with; its
campaign is copied onto them."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def campaign_from_message(apps, schema_editor):
    checkout = apps.get_model("billing", "Checkout")
    message = apps.get_model("campaigns", "Message")
    checkout.objects.filter(message__isnull=False, campaign__isnull=True).update(
        campaign_id=Subquery(
            message.objects.filter(pk=OuterRef("message_id")).values("campaign_id")
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_checkout_expiry_schedule"),
        ("campaigns", "0004_campaign_followups_dispatched_until"),
    ]

    operations = [
        migrations.AddField(
            model_name="checkout",
            name="campaign",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="checkouts",
                to="campaigns.campaign",
            ),
        ),
        migrations.RunPython(campaign_from_message, migrations.RunPython.noop),
    ]
