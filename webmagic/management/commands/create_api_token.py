"""create_api_token <username> --name NAME: print a new API key for a staff user (once)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from crm.tokens import token_create


class Command(BaseCommand):
    help = "Create an API token for a staff user and print its key (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What will use the token")

    def handle(self, *args, username: str, name: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        if not (user.is_active and user.is_staff):
            raise CommandError(
                f"{username!r} is not an active staff user; the API would refuse it."
            )
        try:
            token, key = token_create(user=user, name=name)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"Token {token.name!r} for {username} (id {token.pk}); the key:")
        self.stdout.write(key)
