from django.core.management.base import BaseCommand

from tasks import services, work


class Command(BaseCommand):
    help = "Expire claims past their deadline (and bundles past expiry); free their slots."

    def handle(self, *args, **options):
        claims = work.assignments_expire()
        bundles = services.bundles_expire_due()
        self.stdout.write(f"expired {claims} claim(s) and {bundles} bundle(s)")
