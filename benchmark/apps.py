from django.apps import AppConfig


def seed_demo_benchmark() -> str | None:
    """The seed hook: a synthetic item bank and demo models scored from their answers (imported only when
    ``seed_demo`` runs, as the results hook is)."""
    from benchmark.demo import seed_demo_benchmark as seed

    return seed()


class BenchmarkConfig(AppConfig):
    name = "benchmark"
    verbose_name = "Benchmark"

    def ready(self):
        from surveys.demo import SEED_HOOKS

        if seed_demo_benchmark not in SEED_HOOKS:
            SEED_HOOKS.append(seed_demo_benchmark)
