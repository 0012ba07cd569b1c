import secrets
import string
from urllib.parse import urlencode

from django.core.management.base import BaseCommand

from surveys.demo import DEMO_RESEARCHER, PASSWORD_ENV, seed_demo_study, seed_hooks


class Command(BaseCommand):
    help = (
        "Create or refresh the demo study (slug 'demo', live, 2 item groups, 4 attention checks) and the "
        f"researcher account '{DEMO_RESEARCHER}' (password from ${PASSWORD_ENV} or var/demo-researcher-password), "
        "run every demo seed hook of the other apps, and print the login, a participant link and the "
        "preview link. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Where the site runs, for the printed links."
        )

    def handle(self, *args, base_url, **options):
        base_url = base_url.rstrip("/")
        study, password = seed_demo_study()
        self.stdout.write(self.style.SUCCESS(f"Demo study '{study.slug}' is live with {study.items.count()} items "
                                             f"in {study.groups.count()} groups."))
        for hook in seed_hooks():
            message = hook()
            if message:
                self.stdout.write(str(message))
        alphabet = string.ascii_lowercase + string.digits
        query = urlencode({
            "PROLIFIC_PID": secrets.token_hex(12),
            "STUDY_ID": secrets.token_hex(12),
            "SESSION_ID": "".join(secrets.choice(alphabet) for _ in range(32)),
        })
        self.stdout.write("")
        self.stdout.write(f"Researcher login:  {base_url}/accounts/login/  user '{DEMO_RESEARCHER}'  password '{password}'")
        self.stdout.write(f"Dashboard:         {base_url}/studies/{study.slug}/dashboard/")
        self.stdout.write(f"Participant link:  {base_url}/s/{study.slug}/?{query}")
        self.stdout.write(f"Preview link:      {base_url}/s/{study.slug}/preview/  (log in first; excluded from analysis)")
