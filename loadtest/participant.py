"""One participant taking the whole survey over HTTP, patient like a person: for the drills.

Like a browser user it reloads the page when a request fails (connection dropped, 502/503) and
carries on from whatever page the server shows. When a POST failed but the server had committed
it anyway (the next page comes back), the page counts as accepted: the record then lists exactly
what the database must hold, for ``loadtest/checks.py``.
"""

import random
import time

import httpx

from loadtest.pages import CSRF_RE, STEP_RE, answer_form, page_kind

RETRY_STATUSES = {500, 502, 503, 504}


class SurveyParticipant:
    def __init__(self, base_url: str, slug: str, pid: str, *, think: float = 0.0, seed: int = 0, patience: float = 120.0):
        self.http = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)
        self.slug, self.pid, self.think, self.patience = slug, pid, think, patience
        self.rng = random.Random(seed)
        self.record = {"pid": pid, "tokens": [], "pages": [], "completed": False, "retries": 0, "statuses": {}}

    def _request(self, method: str, url: str, **kwargs) -> httpx.Response:
        """One request, retried (as a reload would be) until it gets an answer that is not a server failure."""
        deadline = time.monotonic() + self.patience
        while True:
            try:
                response = self.http.request(method, url, **kwargs)
                status = str(response.status_code)
                if response.status_code == 503 and "half-saved" in response.text:
                    status = "503 friendly page"
                self.record["statuses"][status] = self.record["statuses"].get(status, 0) + 1
                if response.status_code not in RETRY_STATUSES:
                    return response
            except httpx.TransportError:
                self.record["statuses"]["connection error"] = self.record["statuses"].get("connection error", 0) + 1
            self.record["retries"] += 1
            if time.monotonic() > deadline:
                raise RuntimeError(f"participant {self.pid[:6]}… gave up on {method} {url}")
            time.sleep(0.5)
            if method == "POST":
                return None  # the caller reloads the page and decides whether the POST was committed

    def run(self) -> dict:
        entry = self._request("GET", f"/s/{self.slug}/?PROLIFIC_PID={self.pid}&STUDY_ID=drill&SESSION_ID=s1")
        if entry.status_code != 303:
            raise RuntimeError(f"entry answered {entry.status_code}")
        url = entry.headers["location"]
        self.record["tokens"].append(url.rstrip("/").rsplit("/", 1)[-1])
        pending = None  # (step, kind, answers) of a POST whose outcome is unknown
        while True:
            page = self._request("GET", url)
            body = page.text
            kind = page_kind(body)
            step = int(STEP_RE.search(body).group(1)) if kind != "finished" else None
            if pending is not None:
                if kind == "finished" or step > pending[0]:
                    self._accepted(*pending)  # the server committed it before the connection broke
                pending = None
            if kind == "finished":
                self.record["completed"] = True
                return self.record
            data = {"csrfmiddlewaretoken": CSRF_RE.search(body).group(1), "step": str(step)}
            if kind == "consent":
                data["consent"] = "yes"
            elif kind == "about":
                data.update(gender="female", age_band="35-44")
            else:
                data.update(answer_form(body, self.rng))
            time.sleep(self.think * self.rng.uniform(0.5, 1.5))
            response = self._request("POST", url, data=data)
            answers = {k: v for k, v in data.items() if k not in ("csrfmiddlewaretoken", "step")}
            if response is None:
                pending = (step, kind, answers)
            elif response.status_code == 303:
                self._accepted(step, kind, answers)
            else:
                raise RuntimeError(f"POST {kind} answered {response.status_code}: {response.text[:300]}")

    def _accepted(self, step: int, kind: str, answers: dict) -> None:
        self.record["pages"].append({"step": step, "kind": kind, "answers": answers})
