"""The hostile tests share a populated world per module (see world.py)."""

from tests.security.world import world_app  # noqa: F401 - a fixture
