import getpass
import os

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from surveys.study_setup import RESEARCHERS_GROUP, researchers_group


class Command(BaseCommand):
    help = (
        f"Create a researcher account: a member of the '{RESEARCHERS_GROUP}' group, who may log in, create studies "
        "and run the studies they create or are added to. Not staff: the admin stays for operators. Asks for what "
        "is not given; with --no-input the password comes from --password-from-env."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", help="Login name.")
        parser.add_argument("--email", help="E-mail address.")
        parser.add_argument(
            "--password-from-env", metavar="VAR",
            help="Read the password from the environment variable VAR (never from the command line).",
        )
        parser.add_argument(
            "--no-input", "--noinput", action="store_false", dest="interactive",
            help="Ask nothing: --username, --email and --password-from-env are then required.",
        )

    def handle(self, *args, username, email, password_from_env, interactive, **options):
        user_model = get_user_model()
        if not interactive:
            missing = [f"--{name}" for name, value in
                       (("username", username), ("email", email), ("password-from-env", password_from_env)) if not value]
            if missing:
                raise CommandError(f"--no-input needs {', '.join(missing)}.")
        username = self._username(username, interactive, user_model)
        email = self._email(email, interactive)
        candidate = user_model(username=username, email=email)
        if password_from_env:
            password = os.environ.get(password_from_env, "")
            if not password:
                raise CommandError(f"The environment variable {password_from_env} is unset or empty.")
            try:
                validate_password(password, candidate)
            except ValidationError as error:
                raise CommandError(f"The password in {password_from_env} is not accepted: {' '.join(error.messages)}") from None
        else:
            password = self._prompt_password(candidate)
        with transaction.atomic():
            if user_model.objects.filter(username=username).exists():
                raise CommandError(f"A user '{username}' already exists.")
            user = user_model.objects.create_user(username=username, email=email, password=password)
            user.groups.add(researchers_group())
        self.stdout.write(self.style.SUCCESS(
            f"Researcher '{username}' created: log in at /accounts/login/ to create studies (/studies/new/)."
        ))

    def _username(self, username, interactive, user_model) -> str:
        while True:
            if username is None and interactive:
                username = input("Username: ").strip()
            try:
                user_model.username_validator(username or "")
                if not username:
                    raise ValidationError("A username is required.")
                if user_model.objects.filter(username=username).exists():
                    raise ValidationError(f"A user '{username}' already exists.")
            except ValidationError as error:
                if not interactive:
                    raise CommandError(" ".join(error.messages)) from None
                self.stderr.write(" ".join(error.messages))
                username = None
                continue
            return username

    def _email(self, email, interactive) -> str:
        while True:
            if email is None and interactive:
                email = input("E-mail address: ").strip()
            try:
                validate_email(email or "")
            except ValidationError:
                message = f"'{email or ''}' is not an e-mail address."
                if not interactive:
                    raise CommandError(message) from None
                self.stderr.write(message)
                email = None
                continue
            return email

    def _prompt_password(self, candidate) -> str:
        while True:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                self.stderr.write("The two passwords differ.")
                continue
            try:
                validate_password(password, candidate)
            except ValidationError as error:
                self.stderr.write(" ".join(error.messages))
                continue
            return password
