"""The shared cache's table (settings.CACHES without REDIS_URL): login rate limits and quotas live there, so
they hold across workers and restarts. Made here rather than by a separate `createcachetable` step, so every
way of setting up a database (make run, the tests, a deployment) has it."""

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations

TABLE = "bowout_cache"


def create(apps, schema_editor) -> None:
    command = CreateCacheTable()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, TABLE, dry_run=False)


def drop(apps, schema_editor) -> None:
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("chat", "0005_real_model_replies")]

    operations = [migrations.RunPython(create, drop)]
