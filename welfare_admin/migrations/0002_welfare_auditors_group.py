"""The "Welfare auditors" group: may see ended conversations, requests and the dashboard, review ends and
resolve requests. Reopening is a separate permission, granted person by person."""

from django.db import migrations

GROUP = "Welfare auditors"
PERMISSIONS = [
    "view_endedconversation",
    "review_conversation",
    "view_welfarerequest",
    "resolve_request",
    "view_auditentry",
]


def create_group(apps, schema_editor):
    # Permissions are normally made after all migrations (post_migrate); make this app's now so the group
    # can hold them on a fresh database.
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("welfare_admin")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    permissions = Permission.objects.filter(content_type__app_label="welfare_admin", codename__in=PERMISSIONS)
    assert permissions.count() == len(PERMISSIONS), "welfare_admin permissions are missing"
    group.permissions.add(*permissions)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("welfare_admin", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
