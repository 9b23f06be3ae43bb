from django.core.management.base import BaseCommand, CommandError

from marketplace.errors import DomainError
from marketplace.mturk.keys import access_key_revoke


class Command(BaseCommand):
    help = "Revoke an MTurk API key now: revoke_access_key ACCESS_KEY_ID"

    def add_arguments(self, parser):
        parser.add_argument("access_key_id")

    def handle(self, *args, **opts):
        try:
            key = access_key_revoke(requester=None, access_key_id=opts["access_key_id"].strip())
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc
        self.stdout.write(f"revoked {key.access_key_id} of {key.requester}")
