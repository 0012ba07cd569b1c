"""Test settings on a SQLite *file* (threads need a real file; the in-memory test DB cannot lock).

Keeps the OPTIONS of the embedded SQLite configuration (IMMEDIATE transactions, WAL, timeout),
so the serialisation under test is exactly what ``make demo`` runs with.
"""

import os

from config.settings.test import *  # noqa: F403
from config.settings.test import DATABASES

DATABASES = {"default": {**DATABASES["default"], "NAME": os.environ["SURVEYS_SQLITE_FILE"], "TEST": {}}}
