"""At most one live claim per worker and bundle, as a partial unique index.

Claiming already returned the held claim instead of taking a second one, except when the held
claim was past its deadline and not yet expired. Such leftovers are expired first (their slots
go back), keeping each worker's newest claim, so the index can be built on existing data.
The index also replaces `assignment_live_deadline` for finding due claims."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, F


def expire_extra_claims(apps, schema_editor):
    Assignment = apps.get_model("tasks", "Assignment")
    Bundle = apps.get_model("tasks", "Bundle")
    Item = apps.get_model("tasks", "Item")
    claimed = Assignment.objects.filter(status="claimed")
    groups = (
        claimed.values("worker_id", "bundle_id").annotate(n=Count("id")).filter(n__gt=1)
    )
    for group in groups:
        extra = claimed.filter(worker_id=group["worker_id"], bundle_id=group["bundle_id"])
        for assignment in extra.order_by("-id")[1:]:
            Assignment.objects.filter(pk=assignment.pk).update(status="expired")
            if assignment.is_gold:
                Bundle.objects.filter(pk=assignment.bundle_id).update(
                    gold_slots_open=F("gold_slots_open") + 1
                )
            else:
                Item.objects.filter(pk=assignment.item_id).exclude(state="complete").update(
                    slots_open=F("slots_open") + 1, state="open"
                )


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0006_drop_redundant_review_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(expire_extra_claims, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name="assignment",
            name="assignment_live_deadline",
        ),
        migrations.AddConstraint(
            model_name="assignment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "claimed")),
                fields=("worker", "bundle"),
                name="assignment_one_live_claim",
            ),
        ),
    ]
