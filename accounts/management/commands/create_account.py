from django.core.management.base import BaseCommand, CommandError

from accounts import services
from marketplace.errors import DomainError


class Command(BaseCommand):
    help = "Create an account: create_account EMAIL --password P [--requester] [--worker] [--staff]"

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--password", required=True)
        parser.add_argument("--requester", action="store_true")
        parser.add_argument("--worker", action="store_true")
        parser.add_argument("--staff", action="store_true")
        parser.add_argument("--country", default="")

    def handle(self, *args, **opts):
        try:
            user = services.user_create(
                email=opts["email"],
                password=opts["password"],
                requester=opts["requester"],
                worker=opts["worker"],
                staff=opts["staff"],
                country=opts["country"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc
        roles = [r for r in ("requester", "worker", "staff") if opts[r]] or ["no role"]
        self.stdout.write(f"created {user.email} ({', '.join(roles)})")
