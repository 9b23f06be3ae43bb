from tests.tasks.quality.conftest import _fast_passwords, draw  # noqa: F401
