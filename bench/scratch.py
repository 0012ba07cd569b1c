"""A throw-away database for benchmarks that need one, made and dropped the way the test suite does."""

from contextlib import contextmanager


@contextmanager
def scratch_database():
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    # SQLite's test database lives in shared memory, which outlives destroy_test_db while any other
    # connection (another thread's) is still open: the next benchmark in the same process would find the
    # last one's rows. Emptied here, every benchmark starts from nothing.
    call_command("flush", interactive=False, verbosity=0)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
