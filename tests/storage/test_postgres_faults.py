"""Bad input for the PostgreSQL back end, on a real server of this module's own (so it can be stopped):
down at start, down in the middle of the work, a wrong password, a missing database, a database holding
someone else's tables, a URL that does not parse. Every message names the URL with its password redacted,
and every wait is bounded."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from chatbot.config import Settings
from chatbot.profile_schema import ProfileError, StoreUnavailable
from chatbot.storage.factory import open_store
from chatbot.storage.migrations import SCHEMA_VERSION
from chatbot.storage.postgres import PostgresStore
from retrieval.errors import TastebudError
from tests.postgres import APP_USER, PostgresCluster, free_port, start_cluster

TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL server of this module's own, which the tests stop and start."""
    c = start_cluster()
    try:
        yield c
    finally:
        c.destroy()


@pytest.fixture
def database(cluster: PostgresCluster) -> Iterator[tuple[str, str]]:
    """(name, URL) of a fresh database on the module's server, which is running when the test starts."""
    if not (cluster.data / "postmaster.pid").exists():
        cluster.start()
    with cluster.database() as found:
        yield found


def _settings(url: str, tmp_path) -> Settings:
    """Settings for `url` with short waits."""
    return Settings(data_dir=tmp_path, database_url=url, database_timeout_s=TIMEOUT_S, database_pool_size=2)


def _open_refused(url: str, tmp_path) -> tuple[ProfileError, float]:
    """The error opening `url` raises, and how long it took."""
    started = time.monotonic()
    with pytest.raises(ProfileError) as err:
        open_store(_settings(url, tmp_path)).close()
    return err.value, time.monotonic() - started


def test_down_at_start_names_the_url_without_its_password(cluster: PostgresCluster, database, tmp_path) -> None:
    _, url = database
    cluster.stop()
    error, took = _open_refused(url, tmp_path)
    message = str(error)
    assert isinstance(error, StoreUnavailable) and isinstance(error, TastebudError)
    assert f"postgresql://{APP_USER}:***@127.0.0.1:{cluster.port}/" in message
    assert cluster.password not in message
    assert "is PostgreSQL running" in message and "\n" not in message and "Traceback" not in message
    assert took < TIMEOUT_S + 3
    nobody = f"postgresql://{APP_USER}:{cluster.password}@127.0.0.1:{free_port()}/nothing"  # nothing listens there
    error, took = _open_refused(nobody, tmp_path)
    assert "refused" in str(error) and cluster.password not in str(error) and took < TIMEOUT_S + 3


def test_a_wrong_password_is_said_clearly_and_not_shown(cluster: PostgresCluster, database, tmp_path) -> None:
    name, _ = database
    wrong = "Wr0ngPassw0rd-xyz"
    error, _ = _open_refused(cluster.url(name, password=wrong), tmp_path)
    message = str(error)
    assert "password authentication failed" in message and "check the user and password" in message
    assert wrong not in message and cluster.password not in message and ":***@" in message


def test_a_missing_database_says_what_to_create(cluster: PostgresCluster, database, tmp_path) -> None:
    error, _ = _open_refused(cluster.url("no_such_db"), tmp_path)
    assert "does not exist" in str(error) and "createdb" in str(error) and cluster.password not in str(error)


def test_a_url_that_does_not_parse_never_echoes_its_password(tmp_path) -> None:
    for url in ("postgresql://u:S3cretPw@127.0.0.1:notaport/db", "postgresql://u:S3cretPw@[::1/db",
                "postgresql://u:S3cretPw@127.0.0.1:1/db?password=S3cretPw&sslmode=bogus"):
        error, took = _open_refused(url, tmp_path)
        assert "S3cretPw" not in str(error), str(error)
        assert took < TIMEOUT_S + 3
    with pytest.raises(ProfileError, match="must be a postgresql:// URL") as err:
        open_store(_settings("mysql://root:S3cretPw@localhost/db", tmp_path))
    assert "S3cretPw" not in str(err.value) and "root:***@localhost" in str(err.value)


def test_a_database_holding_someone_elses_tables_is_refused_and_left_untouched(database, tmp_path) -> None:
    _, url = database
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE profiles (name text, email text)")
        conn.execute("INSERT INTO profiles VALUES ('ann', 'ann@example.org')")
    error, _ = _open_refused(url, tmp_path)
    assert "tables tastebud did not create" in str(error) and "left untouched" in str(error)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT * FROM profiles").fetchall() == [("ann", "ann@example.org")]
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert tables == {"profiles"}  # the half-made schema was rolled back


@pytest.mark.timeout(120)
def test_down_during_the_work_is_recoverable_and_loses_nothing_acknowledged(cluster: PostgresCluster, database,
                                                                            tmp_path) -> None:
    _, url = database
    store = open_store(_settings(url, tmp_path))
    assert isinstance(store, PostgresStore)
    try:
        profile = store.new_profile()
        session = store.new_session(profile)
        for n in range(1, 4):
            assert store.record_turn_and_state(session, f"turn {n}", "r", [{"id": f"ml:{n}"}], f'{{"n": {n}}}') == n
        store.add_feedback(profile, session, "ml:2", "like")
        cluster.stop()
        for call in (lambda: store.record_turn_and_state(session, "turn 4", "r", [], '{"n": 4}'),
                     lambda: store.add_feedback(profile, session, "ml:3", "like"),
                     lambda: store.turns(session)):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as err:
                call()
            assert time.monotonic() - started < TIMEOUT_S + 3  # bounded, never a hang
            message = str(err.value)
            assert "profile database" in message and "try again" in message
            assert cluster.password not in message and "postgresql://" not in message and "\n" not in message
        cluster.start()  # same port: the pool reconnects by itself
        deadline = time.monotonic() + 20
        while True:
            try:
                n = store.record_turn_and_state(session, "turn 4", "r", [], '{"n": 4}')
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store did not recover after PostgreSQL came back"
                time.sleep(0.2)
        assert n == 4
        assert [t.user_message for t in store.turns(session)] == ["turn 1", "turn 2", "turn 3", "turn 4"]
        assert store.liked(profile) == ["ml:2"] and store.load_session_state(session) == '{"n": 4}'
    finally:
        store.close()


def test_workers_starting_together_migrate_once(database, tmp_path) -> None:
    import threading

    _, url = database
    stores: list[PostgresStore] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            stores.append(PostgresStore.open(url, pool_size=1, timeout_s=10))
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == [] and len(stores) == 6
        assert {s.schema_version() for s in stores} == {SCHEMA_VERSION}
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (1,)
    finally:
        for s in stores:
            s.close()
