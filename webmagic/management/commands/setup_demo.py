import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from crm.models import Business
from crm.sidebar import sidebar_forget


class Command(BaseCommand):
    help = (
        "Prepare a local instance for `make run`: load seed_demo when the database has no "
        "leads, and (re)set the password of the staff login `demo`, printing it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--leads", type=int, default=2000, help="demo leads to create (default 2000)"
        )
        parser.add_argument("--username", default="demo")

    def handle(self, *args, leads: int, username: str, **options):
        if not Business.objects.exists():
            self.stdout.write(f"Empty database: loading seed_demo --leads {leads} …")
            call_command("seed_demo", leads=leads, stdout=self.stdout)
        else:
            self.stdout.write("Database already has leads: seed_demo not loaded again.")
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"email": f"{username}@webmagic.example"}
        )
        password = secrets.token_urlsafe(9)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        sidebar_forget()  # a new colleague for the lead page's owner menus
        self.stdout.write(
            self.style.SUCCESS(
                f"Staff login: username {username!r}, password {password!r} "
                "(a new password on every `make run`)."
            )
        )
