"""Many participants taking a study at the same moment, each in its own thread and browser.

Shared by the PostgreSQL test (in-process, threads) and the SQLite test (a separate process on a
file database, see ``sqlite_crowd``). Every third participant double-clicks: each of their
pages is POSTed twice at the same time.
"""

import threading

from django.db import connections
from django.test import Client

from surveys.models import Participant
from tests.surveys.helpers import answers_for, arrive


def _post_twice_at_once(url: str, data: dict) -> list[int]:
    statuses: list[int] = []

    def click():
        try:
            statuses.append(Client().post(url, data).status_code)
        finally:
            connections.close_all()

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    return statuses


def crowd_completes(slug: str, n: int, *, double_click_every: int = 3) -> dict:
    """Run ``n`` participants through study ``slug`` at once; returns what each one ended on."""
    start = threading.Barrier(n)
    final_pages: dict[str, str] = {}
    errors: list[str] = []

    def participant_run(i: int):
        try:
            client = Client()
            start.wait()
            url, participant = arrive(client, slug, pid=f"{0xc0ffee000000000000000000 + i:024x}")
            while participant.status == Participant.Status.ACTIVE:
                data = answers_for(participant)
                statuses = (
                    _post_twice_at_once(url, data) if i % double_click_every == 0 else [client.post(url, data).status_code]
                )
                if any(status != 303 for status in statuses):
                    errors.append(f"participant {i}: statuses {statuses} on step {data['step']}")
                    return
                participant.refresh_from_db()
            final_pages[participant.pseudonym] = client.get(url).content.decode()
        except Exception as error:  # collected and reported by the test
            errors.append(f"participant {i}: {error!r}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=participant_run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"final_pages": final_pages, "errors": errors}
