from django.db import migrations

SYSTEM = {
    "approval_rate": "Percent of reviewed assignments approved (100 before any review).",
    "approved_count": "Number of approved assignments.",
    "country": "The worker's country (ISO 3166-1 alpha-2); use In / NotIn / EqualTo.",
}


def create(apps, schema_editor):
    Qualification = apps.get_model("accounts", "Qualification")
    for name, description in SYSTEM.items():
        Qualification.objects.get_or_create(
            name=name, owner=None, defaults={"description": description, "is_system": True}
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
