from django.db import migrations, models


class Migration(migrations.Migration):
    """The minimum fee per judgment, frozen on a bundle's escrow with its fee percent (issue 11,
    defect 10). Escrow reserved before keeps NULL: it was priced without a minimum."""

    dependencies = [
        ("payments", "0003_payout_retry_connect_hold_details"),
    ]

    operations = [
        migrations.AddField(
            model_name="ledgeraccount",
            name="fee_minimum_minor",
            field=models.PositiveIntegerField(blank=True, editable=False, null=True),
        ),
    ]
