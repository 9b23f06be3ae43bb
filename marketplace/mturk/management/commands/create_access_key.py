from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from marketplace.errors import DomainError
from marketplace.mturk.keys import access_key_create


class Command(BaseCommand):
    help = (
        "Make an MTurk API key pair for a requester: create_access_key EMAIL [--label L]. "
        "Prints 'ACCESS_KEY_ID SECRET' on one line; the secret is not shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--label", default="")

    def handle(self, *args, **opts):
        user = User.objects.filter(email__iexact=opts["email"].strip()).first()
        if user is None:
            raise CommandError(f"No user with email {opts['email']}.")
        try:
            key, secret = access_key_create(requester=user, label=opts["label"])
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc
        self.stdout.write(f"{key.access_key_id} {secret}")
