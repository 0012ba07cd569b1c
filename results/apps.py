from django.apps import AppConfig


def seed_published_results() -> str | None:
    """The seed hook, importing the results services only when ``seed_demo`` runs (they pull in scipy.stats,
    which costs about half a second at start-up of every command)."""
    from results.services import seed_published_results as seed

    return seed()


class ResultsConfig(AppConfig):
    name = "results"
    verbose_name = "Results"

    def ready(self):
        # seed_demo loads the published dataset so a new install shows a real leaderboard.
        from results.cache import connect_signals
        from surveys.demo import SEED_HOOKS

        connect_signals()

        if seed_published_results not in SEED_HOOKS:
            SEED_HOOKS.append(seed_published_results)
