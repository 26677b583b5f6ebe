"""Fixtures of the storage tests: every contract test runs once per back end (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chatbot.storage.protocol import Store
from tests.storage.backends import Backend, PostgresBackend, SQLiteBackend

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[Backend]:
    """A database of this test's own on each back end in turn."""
    if request.param == "sqlite":
        yield SQLiteBackend(data_dir)
        return
    cluster = request.getfixturevalue("postgres_cluster")
    with cluster.database() as (name, url):
        yield PostgresBackend(cluster, name, url, data_dir)


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    """A store on this test's database, opened through the factory; closed afterwards."""
    s = backend.open()
    yield s
    s.close()
