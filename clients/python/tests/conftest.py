"""Shared fixtures: the server under test and a fresh topic per test."""

from __future__ import annotations

import os
import re
import uuid

import pytest


@pytest.fixture(scope="session")
def host() -> str:
    """The address of a running mkfk-server (the tests never start one)."""
    address = os.environ.get("MINIKAFKA_TEST_HOST")
    if not address:
        pytest.fail(
            "MINIKAFKA_TEST_HOST is not set: start an mkfk-server and run e.g. "
            "MINIKAFKA_TEST_HOST=127.0.0.1:9999 .venv/bin/pytest tests",
            pytrace=False,
        )
    return address


@pytest.fixture
def topic(request: pytest.FixtureRequest) -> str:
    """A topic name no other test (or earlier run) uses."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", request.node.name)[:60]
    return f"py-{name}-{uuid.uuid4().hex[:12]}"
