"""The sales role as a Django permission: `crm.edit_leads`, granted to the `sales` group
(created in 0003), so role checks are `user.has_perm("crm.edit_leads")` through Django's
ModelBackend. Superusers hold every permission; viewers hold none of these."""

from django.db import migrations

CODENAME = "edit_leads"
NAME = "Can edit leads and run campaigns"


def grant(apps, schema_editor):
    # Permissions are otherwise created after every migration has run (post_migrate), too
    # late for this one: create it now; post_migrate then finds it in place.
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    content_type, _ = ContentType.objects.get_or_create(app_label="crm", model="business")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename=CODENAME, defaults={"name": NAME}
    )
    Group.objects.get_or_create(name="sales")[0].permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="crm", codename=CODENAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0016_city_sort_indexes_status_statistics"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="business",
            options={
                "permissions": [(CODENAME, NAME)],
                "verbose_name_plural": "businesses",
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
