"""The beat scheduler: django-celery-beat's database scheduler, with the admin in charge.

django-celery-beat rewrites every entry of CELERY_BEAT_SCHEDULE into its PeriodicTask rows each
time beat starts, so an interval an operator changed in the admin (or a job they disabled) came
back at the next restart. Here the settings only seed the rows: an entry is written when no row
of that name exists, and from then on the admin's row is the schedule."""

from __future__ import annotations

from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler


class AdminEditableScheduler(DatabaseScheduler):
    def setup_schedule(self) -> None:
        self.install_default_entries(self.schedule)
        existing = set(PeriodicTask.objects.values_list("name", flat=True))
        missing = {
            name: entry
            for name, entry in self.app.conf.beat_schedule.items()
            if name not in existing
        }
        self.update_from_dict(missing)
