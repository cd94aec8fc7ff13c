"""The django-q2 schedule that marks unpaid checkouts abandoned (billing.tasks)."""

from django.db import migrations


def forwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="billing.checkouts_expire",
        defaults={
            "func": "billing.tasks.checkouts_expire",
            "schedule_type": "I",
            "minutes": 10,
            "repeats": -1,
        },
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="billing.checkouts_expire").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_checkout_reminders_subscription_links_payment_method"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
