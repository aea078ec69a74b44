"""Shared fixtures: the project paths, the trained model, and the PostgreSQL and Redis servers.

``postgres_url`` / ``redis_url`` are ``$CLINIC_TEST_POSTGRES_URL`` / ``$CLINIC_TEST_REDIS_URL``
when set, else a private server started for the session (tests/support/services.py) the first
time a test asks for it, and stopped at the end.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import pytest

from clinic.paths import MODELS_DIR
from tests.support.services import (
    POSTGRES_URL_ENV,
    REDIS_URL_ENV,
    ServiceStartError,
    ServiceUnavailableError,
    private_postgres,
    private_redis,
)

MODEL_PATH = MODELS_DIR / "clinic.tar.gz"

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


@pytest.fixture(scope="session")
def trained_model() -> Path:
    if not MODEL_PATH.is_file():
        pytest.fail(f"no trained model at {MODEL_PATH}: run `make train` (make test does)")
    return MODEL_PATH


def _service_url(
    env_name: str,
    start_private: Callable[[Path], AbstractContextManager[str]],
    work_dir: Callable[[], Path],
) -> Iterator[str]:
    given = os.environ.get(env_name)
    if given:
        yield given
        return
    with ExitStack() as stack:
        try:
            url = stack.enter_context(start_private(work_dir()))
        except (ServiceUnavailableError, ServiceStartError) as error:
            pytest.fail(f"{error} (or set {env_name} to a server's URL)", pytrace=False)
        yield url


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server with database ``test``: ``$CLINIC_TEST_POSTGRES_URL`` or a private one."""
    yield from _service_url(
        POSTGRES_URL_ENV, private_postgres, lambda: tmp_path_factory.mktemp("postgres")
    )


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server: ``$CLINIC_TEST_REDIS_URL`` or a private one."""
    yield from _service_url(REDIS_URL_ENV, private_redis, lambda: tmp_path_factory.mktemp("redis"))
