"""`make bench`: run every bench/bench_*.py module's main() and print its ratio against a baseline.

Each benchmark measures its baseline in the same run (never a fixed number), so the ratio is
meaningful on a shared, noisy machine. Run one with `python -m bench NAME` (e.g. `correlation`).
"""

import importlib
import pkgutil
import sys
from pathlib import Path

import django


def main(argv: list[str]) -> int:
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    django.setup()
    wanted = set(argv)
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
    for name in names:
        if wanted and name.removeprefix("bench_") not in wanted:
            continue
        print(f"== {name}", flush=True)
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
