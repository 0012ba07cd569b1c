"""A Prolific launch: simulated participants who each take the whole survey once.

Run by ``loadtest/run.py`` (``make loadtest``) with Locust from ``.venv-load``; it needs no Django.
Each simulated participant opens the entry link with a fresh PROLIFIC_PID, then consent → instructions
→ every item page (attention checks answered as instructed) → about → PVQ-21 → BFI-10 → the
completion page with its redirect to Prolific. Think time is compressed. Some participants refresh a
page, press back and resubmit an earlier page with different answers (which the server must ignore),
double-submit a page (two POSTs at once) or open the entry link twice.

Each participant appends one JSON line to ``$LOADTEST_RECORDS`` with the answers the server accepted
first, so ``loadtest/checks.py`` can compare them with the database afterwards.

The mixed scenario adds ``LOADTEST_RESULTS_CLIENTS`` anonymous visitors (:class:`ResultsVisitor`) that loop
over the public results pages with no pause, each from its own address (``X-Forwarded-For``, read by the
server with ``TRUSTED_PROXY_HOPS=1``), while the participants take the survey: the results pages must not
slow the survey. A visitor's ``429`` (the results rate limit doing its job) is counted as its own row,
not as a failure.

Environment: LOADTEST_STUDY (slug), LOADTEST_USERS (participants; Locust quits when all are done),
LOADTEST_THINK (mean seconds per page), LOADTEST_RECORDS (output path), LOADTEST_SEED,
LOADTEST_RESULTS_CLIENTS (visitors, default 0), LOADTEST_RESULTS_PAGES (comma-separated paths).
"""

import html
import json
import os
import random
import time

import gevent
from locust import FastHttpUser, constant, task
from locust.exception import StopUser
from pages import CODE_RE, CSRF_RE, RETURN_RE, STEP_RE, answer_form, page_kind

STUDY = os.environ.get("LOADTEST_STUDY", "loadtest")
USERS = int(os.environ.get("LOADTEST_USERS", "300"))
THINK = float(os.environ.get("LOADTEST_THINK", "7.0"))
RECORDS = os.environ.get("LOADTEST_RECORDS", "var/loadtest-records.jsonl")
SEED = int(os.environ.get("LOADTEST_SEED", "7"))
RESULTS_CLIENTS = int(os.environ.get("LOADTEST_RESULTS_CLIENTS", "0"))
RESULTS_PAGES = [page for page in os.environ.get("LOADTEST_RESULTS_PAGES", "/results/").split(",") if page]
# Share of pages on which a participant misbehaves in each way.
P_REFRESH, P_BACK, P_DOUBLE, P_ENTRY_TWICE = 0.08, 0.05, 0.05, 0.05
MAX_RETRIES = 5  # a participant reloads a failed page this many times before giving up

_rng = random.Random(SEED)
_finished = 0


class SurveyParticipant(FastHttpUser):
    wait_time = constant(0)  # think time is part of the task, so every participant runs the survey once
    fixed_count = USERS  # exactly this many participants, whatever the total -u (which adds the visitors)

    def on_start(self):
        # Never follow redirects: FastHttpSession's per-request allow_redirects=False flips shared client
        # state, which a concurrent double-submit would race on.
        self.client.client.redirect_response_codes = frozenset()
        self.rng = random.Random(_rng.random())
        self.pid = f"{self.rng.getrandbits(96):024x}"
        self.record = {"pid": self.pid, "tokens": [], "pages": [], "ignored_resubmits": 0, "completed": False}

    def think(self, factor: float = 1.0):
        time.sleep(max(0.0, self.rng.uniform(0.5, 1.5) * THINK * factor))

    def get(self, url: str, name: str | None = None):
        """GET with retries like a participant pressing reload; returns (response, kind) or (None, None)."""
        for _ in range(MAX_RETRIES):
            with self.client.get(url, name=name or "GET ?", allow_redirects=False, catch_response=True) as response:
                kind = page_kind(response.text) if response.status_code == 200 else None
                if name is None and kind:
                    response.request_meta["name"] = f"GET {kind}"
                if response.status_code in (200, 303):
                    response.success()
                    return response, kind
                response.failure(f"status {response.status_code}")
            self.think(0.5)
        return None, None

    def post(self, url: str, data: dict, kind: str, label: str = "POST"):
        with self.client.post(url, data=data, name=f"{label} {kind}", allow_redirects=False, catch_response=True) as response:
            if response.status_code == 303:
                response.success()
            else:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
            return response.status_code

    def enter(self) -> str | None:
        query = f"?PROLIFIC_PID={self.pid}&STUDY_ID=loadtest&SESSION_ID=s{self.pid[:8]}"
        response, _ = self.get(f"/s/{STUDY}/{query}", name="GET entry")
        if response is None or response.status_code != 303:
            return None
        location = response.headers["Location"]
        self.record["tokens"].append(location.rstrip("/").rsplit("/", 1)[-1])
        return location

    @task
    def take_survey(self):
        global _finished
        try:
            self.run_survey()
        finally:
            with open(RECORDS, "a", encoding="utf-8") as out:
                out.write(json.dumps(self.record) + "\n")
            _finished += 1
            if _finished >= USERS:
                gevent.spawn_later(0.5, self.environment.runner.quit)
        raise StopUser()

    def run_survey(self):
        url = self.enter()
        if url is None:
            return
        if self.rng.random() < P_ENTRY_TWICE:
            self.think(0.2)
            self.enter()
        self.client.get("/static/css/site.css", name="GET static")
        previous = None  # (data, kind) of the page submitted before the current one
        while True:
            response, kind = self.get(url)
            if response is None:
                return
            body = response.text
            if kind == "finished":
                self.finish(body)
                return
            if self.rng.random() < P_REFRESH:
                self.think(0.3)
                response, kind = self.get(url)
                if response is None:
                    return
                body = response.text
            step = int(STEP_RE.search(body).group(1))
            data = {"csrfmiddlewaretoken": CSRF_RE.search(body).group(1), "step": str(step)}
            if kind == "consent":
                data["consent"] = "yes"
            elif kind == "about":
                data.update(gender=self.rng.choice(["female", "male", "other", "undisclosed"]), age_band="25-34")
            else:
                data.update(answer_form(body, self.rng))
            self.think(3.0 if kind == "items" else 1.0)  # an item page has a query and three responses to read
            if self.rng.random() < P_DOUBLE:
                statuses = [g.value for g in gevent.joinall([gevent.spawn(self.post, url, data, kind, "POST double") for _ in range(2)])]
            else:
                statuses = [self.post(url, data, kind)]
            if 303 not in statuses:
                continue  # reload the page and answer it again, like a participant would
            self.record["pages"].append({"step": step, "kind": kind, "answers": {k: v for k, v in data.items() if k not in ("csrfmiddlewaretoken", "step")}})
            if previous is not None and self.rng.random() < P_BACK:
                # Back button: the earlier page's form is submitted again with changed answers.
                old, old_kind = previous
                changed = {k: (v if k in ("csrfmiddlewaretoken", "step", "consent") else self.rng.choice(sorted({v, "1", "2"}))) for k, v in old.items()}
                self.post(url, changed, old_kind, "POST back")
                self.record["ignored_resubmits"] += 1
            previous = (data, kind)

    def finish(self, body: str):
        code = CODE_RE.search(body)
        link = RETURN_RE.search(body)
        self.record["completed"] = True
        self.record["code"] = code.group(1) if code else ""
        self.record["redirect"] = html.unescape(link.group(1)) if link else ""


_visitor_numbers = iter(range(1, 1_000_000))


class ResultsVisitor(FastHttpUser):
    """An anonymous visitor looping over the results pages as fast as the server answers."""

    wait_time = constant(0)
    fixed_count = RESULTS_CLIENTS

    def on_start(self):
        number = next(_visitor_numbers)
        self.address = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"

    @task
    def browse(self):
        for page in RESULTS_PAGES:
            with self.client.get(page, name="results " + page.split("?")[0], headers={"X-Forwarded-For": self.address},
                                 allow_redirects=False, catch_response=True) as response:
                if response.status_code == 429:
                    response.request_meta["name"] = "results (rate-limited 429)"
                    response.success()
                elif response.status_code == 200:
                    response.success()
                else:
                    response.failure(f"status {response.status_code}")
