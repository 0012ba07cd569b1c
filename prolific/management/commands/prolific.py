import json
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from prolific import services
from prolific.client import ProlificError
from prolific.secrets_box import SecretUnreadable
from prolific.selectors import CATEGORY_LABELS, review_plan
from surveys.models import Study

OPERATION_ERRORS = (services.ProlificOpsError, ProlificError, SecretUnreadable)


class Command(BaseCommand):
    help = (
        "Prolific operations for one study. Steps: "
        "'configure' sets the Prolific study id, the API token source, messages and returns for data quality; "
        "'check' fetches the study from Prolific to prove token and id work; "
        "'reconcile' fetches every submission, lists mismatches and frees places of returned/timed-out ones; "
        "'review' previews the approvals, rejections and return requests with the basis of each (add --send to send them); "
        "'subscribe' sets up Prolific's webhook: the workspace secret, the subscription and its confirmation. "
        "Participants are shown by pseudonym; the API token is never printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The study's slug.")
        parser.add_argument("step", choices=["configure", "check", "reconcile", "review", "subscribe"], help="What to do.")
        parser.add_argument(
            "--send", action="store_true", help="review: send the previewed decisions to Prolific."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="reconcile: fetch and report but change nothing here. review: preview only (the default).",
        )
        parser.add_argument("--prolific-study-id", help="configure: Prolific's study id (the %%STUDY_ID%%).")
        parser.add_argument(
            "--token-env", metavar="VAR", help="configure: read the API token from this environment variable (one PROLIFIC_TOKEN_ENV_VARS allows for the study)."
        )
        parser.add_argument(
            "--token-stdin", action="store_true", help="configure: read the API token from standard input and store it encrypted."
        )
        parser.add_argument(
            "--webhook-secret-stdin", action="store_true",
            help="configure: read the webhook secret from standard input (after the token, one per line).",
        )  # fmt: skip
        parser.add_argument(
            "--rejection-message-file", metavar="PATH", help="configure: text file holding the rejection message (>= 100 characters)."
        )
        parser.add_argument(
            "--workspace-id", metavar="ID", help="subscribe: the Prolific workspace the study belongs to."
        )
        parser.add_argument(
            "--target-url", metavar="URL",
            help="subscribe: this platform's webhook address as Prolific reaches it, https://<host>/prolific/webhook/.",
        )  # fmt: skip
        parser.add_argument(
            "--new-secret", action="store_true",
            help="subscribe: create a new workspace secret even if one is stored here (replaces it on Prolific).",
        )  # fmt: skip
        parser.add_argument("--return-reason", help="configure: reason sent when asking a participant to return.")
        parser.add_argument(
            "--returns-for-quality", choices=["on", "off"],
            help="configure: 'on' asks participants who finished but whom the latest analysis excluded (for anything "
            "but attention checks) to return instead of approving them; 'off' (the default) pays them.",
        )  # fmt: skip
        parser.add_argument(
            "--confirm-returns", type=int, metavar="N",
            help="configure: with --returns-for-quality on, the number of participants it affects now (the error "
            "without it names the number).",
        )  # fmt: skip

    def handle(self, *args, slug, step, send, dry_run, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug '{slug}'.")
        if send and step != "review":
            raise CommandError("--send only applies to the review step.")
        if send and dry_run:
            raise CommandError("--send and --dry-run contradict each other: choose one.")
        try:
            getattr(self, f"_{step}")(study, send=send, dry_run=dry_run, **options)
        except OPERATION_ERRORS as exc:
            raise CommandError(str(exc)) from None

    def _configure(self, study, *, prolific_study_id, token_env, token_stdin, webhook_secret_stdin,
                   rejection_message_file, return_reason, returns_for_quality, confirm_returns, **_):  # fmt: skip
        lines = iter(sys.stdin.read().splitlines()) if (token_stdin or webhook_secret_stdin) else iter(())
        token = next(lines, "").strip() if token_stdin else None
        if token_stdin and not token:
            raise CommandError("--token-stdin: standard input held no token.")
        secret = next(lines, "").strip() if webhook_secret_stdin else None
        message = None
        if rejection_message_file:
            try:
                with open(rejection_message_file, encoding="utf-8") as handle:
                    message = handle.read()
            except OSError as exc:
                raise CommandError(f"{rejection_message_file}: {exc.strerror}") from None
        services.prolific_settings_update(
            study=study, prolific_study_id=prolific_study_id, token=token, token_env_var=token_env,
            webhook_secret=secret, rejection_message=message, return_reason=return_reason,
            return_excluded_for_quality=None if returns_for_quality is None else returns_for_quality == "on",
            confirmed_quality_returns=confirm_returns,
        )  # fmt: skip
        self.stdout.write(self.style.SUCCESS(
            f"Saved. Prolific study id: {study.prolific_study_id or 'not set'}; token: "
            f"{services.token_description(study=study)}; returns for data quality: "
            f"{'on' if services.prolific_settings_get(study=study).return_excluded_for_quality else 'off'}."
        ))  # fmt: skip

    def _subscribe(self, study, *, workspace_id, target_url, new_secret, **_):
        if not workspace_id or not target_url:
            raise CommandError("subscribe needs --workspace-id and --target-url.")
        result = services.webhook_subscribe(
            study=study, workspace_id=workspace_id, target_url=target_url, new_secret=new_secret
        )
        settings_row = services.prolific_settings_get(study=study)
        secret = "created and stored encrypted" if result.secret_created else "already stored here, kept"
        subscription = "created and confirmed" if result.subscription_created else "already enabled on Prolific, kept"
        self.stdout.write(self.style.SUCCESS(
            f"Webhook set up: workspace secret {secret} ({settings_row.webhook_secret_hint}); subscription of "
            f"{result.target_url} to {services.HOOK_EVENT_TYPE} {subscription}. Prolific now sends status changes."
        ))  # fmt: skip

    def _check(self, study, **_):
        detail = services.prolific_study_check(study=study)
        self.stdout.write(self.style.SUCCESS(
            f"Token and study id work: '{detail.get('name', '?')}' is {detail.get('status', '?')} on Prolific."
        ))  # fmt: skip

    def _reconcile(self, study, *, dry_run, **_):
        result = services.submissions_reconcile(study=study, dry_run=dry_run)
        prefix = "Dry run, nothing changed. " if dry_run else ""
        self.stdout.write(
            f"{prefix}Fetched {result.fetched} submissions ({result.created} new, {result.changed} changed); "
            f"{result.places_freed} group places freed; {result.pending} sent decisions await Prolific"
            + (f", {result.replanned} that Prolific never applied will be sent again by the next review." if result.replanned else ".")
        )
        for category, n in result.report.counts.items():
            self.stdout.write(f"  {CATEGORY_LABELS[category]:<50} {n:>6}")
        for row in result.report.discrepancies:
            self.stdout.write(f"  {row.who:<20} here={row.local_status or '-':<14} prolific={row.prolific_status or '-':<18} {row.category}")

    def _review(self, study, *, send, **_):
        plan = review_plan(study=study)
        self.stdout.write(f"Review plan {plan.digest} (from the last reconcile; run 'reconcile' first for fresh statuses).")
        self.stdout.write(
            "Pay follows Prolific's rules: completed -> approve; at least two failed attention checks -> reject. "
            f"Returns for data quality are {'on' if plan.quality_returns_on else 'off'} for this study."
        )
        for item in plan.approvals + plan.rejections + plan.returns:
            self.stdout.write(f"  {item.pseudonym:<20} {item.action} — {item.reason}")
        for who, note in plan.waiting:
            self.stdout.write(f"  {who:<20} waiting: {note}")
        if plan.unmatched:
            self.stdout.write(f"  {plan.unmatched} submissions awaiting review have no participant here: review them on Prolific.")
        for problem in plan.problems:
            self.stderr.write(problem)
        # Command output often ends up in logs: submission ids are printed as <pseudonym> placeholders
        # (the study's Prolific page shows the requests verbatim).
        placeholders = {item.submission_id: f"<{item.pseudonym}>" for item in plan.approvals + plan.rejections + plan.returns}
        self.stdout.write("Requests (submission ids shown as <pseudonym>):" if plan.requests else "Nothing to send.")
        for request in plan.requests:
            line = f"{request['method']} {request['path']} {json.dumps(request['json'])}"
            for submission_id, placeholder in placeholders.items():
                line = line.replace(submission_id, placeholder)
            self.stdout.write(f"  {line}")
        if not send or plan.is_empty:
            return
        result = services.review_send(
            study=study, expected_digest=plan.digest,
            progress=lambda steps: tqdm(steps, desc="Sending to Prolific", unit="request", file=sys.stderr),
        )  # fmt: skip
        sent = ", ".join(f"{n} {action}" for action, n in result.sent.items()) or "nothing"
        self.stdout.write(self.style.SUCCESS(f"Sent: {sent}. Confirmed by Prolific so far: {result.confirmed}."))
        for failure in result.failed:
            self.stderr.write(f"Failed: {failure}")
        for unknown in result.unknown:
            self.stderr.write(f"No answer: {unknown}")
        if result.failed:
            raise CommandError(f"{len(result.failed)} decisions failed; run the review again to retry them.")
