"""Claims update items and assignments constantly; the default autovacuum thresholds (20% of
the table) let dead rows pile up in a 100k-item bundle and slow the claim index scan. Vacuum
these hot tables after ~1% churn instead. PostgreSQL only; a no-op elsewhere."""

from django.db import migrations

TABLES = ("tasks_item", "tasks_assignment", "tasks_workerbundlestats")


def tune(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.01, "  # noqa: S608
            "autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0, "
            "fillfactor = 85)"
        )


def untune(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, "  # noqa: S608
            "autovacuum_analyze_scale_factor, autovacuum_vacuum_cost_delay, fillfactor)"
        )


class Migration(migrations.Migration):
    dependencies = [("tasks", "0001_initial")]
    operations = [migrations.RunPython(tune, untune)]
