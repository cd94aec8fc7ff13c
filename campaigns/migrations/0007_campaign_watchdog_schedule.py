"""The django-q2 schedule of the campaign watchdog (campaigns.tasks.campaigns_watchdog): every
minute it turns messages stuck in `sending` into `unknown`, hands lapsed work out again, and
completes or flags sending campaigns with nothing moving."""

from django.db import migrations


def forwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="campaigns-watchdog",
        defaults={
            "func": "campaigns.tasks.campaigns_watchdog",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="campaigns-watchdog").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0006_unknown_status_site_wait_and_cooldown_override"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
