import pytest

from surveys.demo import seed_demo_study


@pytest.fixture
def demo_study(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    study, _ = seed_demo_study()
    return study
