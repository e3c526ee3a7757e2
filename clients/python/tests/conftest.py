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


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: the token tests need an mkfk-server with "
            "MINIKAFKA_AUTH_FILE (MINIKAFKA_TEST_AUTH_HOST), a token that may "
            "produce and consume any topic (MINIKAFKA_TEST_TOKEN) and an admin "
            "token (MINIKAFKA_TEST_ADMIN_TOKEN); cmd/tests/clients.rs sets all three",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="session")
def auth_host() -> str:
    """The address of a running mkfk-server with tokens."""
    return _required("MINIKAFKA_TEST_AUTH_HOST")


@pytest.fixture(scope="session")
def client_token() -> str:
    """A token of ``auth_host`` that may produce and consume any topic."""
    return _required("MINIKAFKA_TEST_TOKEN")


@pytest.fixture(scope="session")
def admin_token() -> str:
    """An admin token of ``auth_host``."""
    return _required("MINIKAFKA_TEST_ADMIN_TOKEN")
