from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "results"
    verbose_name = "Results"

    def ready(self):
        # seed_demo loads the published dataset so a new install shows a real leaderboard.
        from results.services import seed_published_results
        from surveys.demo import SEED_HOOKS

        if seed_published_results not in SEED_HOOKS:
            SEED_HOOKS.append(seed_published_results)
