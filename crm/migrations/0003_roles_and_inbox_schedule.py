"""Staff roles (DESIGN.md: `viewer` reads, `sales` also edits leads and runs campaigns) and
the django-q2 schedule that retries inbox events whose record was not known yet."""

from django.db import migrations


def forwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ("viewer", "sales"):
        Group.objects.get_or_create(name=name)
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="crm.inbox_retry_due",
        defaults={"func": "crm.tasks.inbox_retry_due", "schedule_type": "I", "minutes": 1,
                  "repeats": -1},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="crm.inbox_retry_due").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0002_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
