"""The fuzz tests run against the populated world of the hostile tests."""

from tests.security.world import world_app  # noqa: F401 - a fixture
