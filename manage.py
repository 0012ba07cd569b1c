#!/usr/bin/env python
import gc
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
    # No cyclic garbage collection while Django sets up and the command's module is imported: start-up
    # allocates objects by the hundred thousand, next to no garbage, and the collector's passes over them
    # took a tenth of its CPU. The collector is back on, with those objects frozen (never traversed again),
    # once the command is loaded (_collector_on); `help` and the like end before that.
    gc.disable()
    if len(argv) > 1 and argv[1] in STANDALONE_COMMANDS:
        # No settings module either: loading it starts Celery (config/__init__.py), and Django's
        # closing of database connections after the command skips unconfigured settings.
        # pyarrow's own allocator (mimalloc) took its memory in a way whose page faults cost this machine's
        # kernel two to three times as much as the C library's: correlate's 20,000-item benchmark took a
        # median 1.52 s with it and 1.30 s with the system allocator (7 runs each, alternated). A value
        # already in the environment wins.
        os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
        from importlib import import_module

        command = import_module(STANDALONE_COMMANDS[argv[1]]).Command()
        _collector_on()
        command.run_from_argv(argv)
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    from django.core.management import ManagementUtility

    class Utility(ManagementUtility):  # execute_from_command_line is ManagementUtility(argv).execute()
        def fetch_command(self, subcommand):
            command = super().fetch_command(subcommand)
            _collector_on()
            return command

    Utility(argv).execute()


def _collector_on():
    gc.freeze()
    gc.enable()


def _before_exit():
    """The command is done and the process ends: let the interpreter exit without garbage-collecting.

    With Django, pandas and scipy loaded, the collections Python runs while it tears its modules down
    take about 0.25 s of a command's wall time, to free memory the operating system takes back anyway.
    ``gc.freeze()`` moves every object out of the collector's reach; nothing else changes: atexit
    handlers, logging's flush and the closing of files and standard streams run as before (Python never
    promised to finalise objects still alive at exit).
    """
    gc.freeze()


if __name__ == "__main__":
    main()
