"""Make the ``fake_stripe`` fixture available to the fake's own tests even before (or
without) ``tests/conftest.py`` importing it; the definition is shared, not duplicated."""

from tests.fakestripe.fixtures import fake_stripe  # noqa: F401
