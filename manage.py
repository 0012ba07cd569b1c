#!/usr/bin/env python
import os
import sys

# Commands that only read and write files (no database, models, URLs or settings) run without
# django.setup(): importing every app's models and admin (pandas, scipy, Celery, httpx) takes
# longer than such a command's own work. `manage.py help` and call_command still find them as usual.
STANDALONE_COMMANDS = {"correlate": "psychometrics.management.commands.correlate"}


def main():
    if len(sys.argv) > 1 and sys.argv[1] in STANDALONE_COMMANDS:
        # No settings module either: loading it starts Celery (config/__init__.py), and Django's
        # closing of database connections after the command skips unconfigured settings.
        from importlib import import_module

        import_module(STANDALONE_COMMANDS[sys.argv[1]]).Command().run_from_argv(sys.argv)
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
