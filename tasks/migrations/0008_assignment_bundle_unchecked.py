"""assignment.bundle repeats item.bundle; the database stops checking it against tasks_bundle,
whose row every claim in a bundle would otherwise lock (see the model)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0007_one_live_claim_per_worker"),
    ]

    operations = [
        migrations.AlterField(
            model_name="assignment",
            name="bundle",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="assignments",
                to="tasks.bundle",
            ),
        ),
    ]
