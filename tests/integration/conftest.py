"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest

from omnibot_sandbox import create_app
from tests.sandbox_helpers import SandboxClient


@pytest.fixture
def sandbox() -> SandboxClient:
    """A fresh sandbox (default config) through Flask's test client."""
    return SandboxClient(create_app().test_client())
