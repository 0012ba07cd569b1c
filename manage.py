#!/usr/bin/env python
import os
import sys

# Commands that only read and write files (no database, models, URLs or settings) run without
# django.setup(): importing every app's models and admin (pandas, scipy, Celery, httpx) takes
# longer than such a command's own work. `manage.py help` and call_command still find them as usual.
STANDALONE_COMMANDS = {"correlate": "psychometrics.management.commands.correlate"}


def main():
    try:
        _run(sys.argv)
    finally:
        _before_exit()


def _run(argv):
    if len(argv) > 1 and argv[1] in STANDALONE_COMMANDS:
        # No settings module either: loading it starts Celery (config/__init__.py), and Django's
        # closing of database connections after the command skips unconfigured settings.
        from importlib import import_module

        import_module(STANDALONE_COMMANDS[argv[1]]).Command().run_from_argv(argv)
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


def _before_exit():
    """The command is done and the process ends: let the interpreter exit without garbage-collecting.

    With Django, pandas and scipy loaded, the collections Python runs while it tears its modules down
    take about 0.25 s of a command's wall time, to free memory the operating system takes back anyway.
    ``gc.freeze()`` moves every object out of the collector's reach; nothing else changes: atexit
    handlers, logging's flush and the closing of files and standard streams run as before (Python never
    promised to finalise objects still alive at exit).
    """
    import gc

    gc.freeze()


if __name__ == "__main__":
    main()
