"""`open_store` picks the back end from Settings, and the database URL's password never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.config import Settings
from chatbot.profile_schema import ProfileError
from chatbot.storage.database_url import is_postgres_url, redact_url, scrub_secrets, url_passwords
from chatbot.storage.factory import open_store
from chatbot.storage.migrations import POSTGRES_MIGRATIONS, SCHEMA_VERSION, SQLITE_MIGRATIONS
from chatbot.storage.postgres import PostgresStore
from chatbot.storage.protocol import Store
from chatbot.storage.sqlite import DB_NAME, SQLiteStore


def test_sqlite_in_the_data_dir_is_the_default(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASTEBUD_DATABASE_URL", raising=False)
    for settings in (Settings(data_dir=data_dir), Settings(data_dir=data_dir, database_url="  ")):
        store = open_store(settings)
        try:
            assert isinstance(store, SQLiteStore) and isinstance(store, Store)
            assert store.path == data_dir.resolve() / DB_NAME
        finally:
            store.close()


def test_a_postgresql_url_picks_postgresql(postgres_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEBUD_DATABASE_URL", postgres_url)  # the way an operator sets it
    store = open_store(Settings(data_dir=data_dir))
    try:
        assert isinstance(store, PostgresStore) and isinstance(store, Store)
        assert store.schema_version() == SCHEMA_VERSION
        assert not (data_dir / DB_NAME).exists()
    finally:
        store.close()


def test_both_back_ends_have_the_same_schema_versions() -> None:
    assert len(SQLITE_MIGRATIONS) == len(POSTGRES_MIGRATIONS) == SCHEMA_VERSION


def test_settings_never_show_the_database_password() -> None:
    settings = Settings(database_url="postgresql://app:Hunter2Secret@db.internal:5432/tastebud")
    assert "Hunter2Secret" not in repr(settings) and "Hunter2Secret" not in str(settings.model_dump())
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value().endswith("@db.internal:5432/tastebud")


@pytest.mark.parametrize("url, shown", [
    ("postgresql://app:pw@h:5432/db", "postgresql://app:***@h:5432/db"),
    ("postgres://app@h/db", "postgres://app@h/db"),
    ("postgresql://app:p@ss@h/db?sslmode=require", "postgresql://app:***@h/db?sslmode=require"),
    ("postgresql://h/db?user=a&password=pw#x", "postgresql://h/db?user=a&password=***#x"),
    ("postgresql:///db?host=/run/postgresql", "postgresql:///db?host=/run/postgresql"),
    ("postgresql://app:pw@[::1/db", "<a database URL that cannot be read>"),
])
def test_urls_are_shown_with_the_password_redacted(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_drivers_message_is_scrubbed_of_the_url_and_password() -> None:
    url = "postgresql://app:p%40ss-word@h/db"
    assert url_passwords(url) == ["p%40ss-word", "p@ss-word"]
    message = f'invalid dsn: "{url}" (password p@ss-word)'
    assert scrub_secrets(message, url) == 'invalid dsn: "postgresql://app:***@h/db" (password ***)'
    assert is_postgres_url("PostgreSQL://x") and not is_postgres_url("sqlite:///x")


def test_another_kind_of_url_is_refused_in_words(data_dir: Path) -> None:
    with pytest.raises(ProfileError, match="must be a postgresql:// URL") as err:
        open_store(Settings(data_dir=data_dir, database_url="mysql://root:toor@localhost/db"))
    assert "toor" not in str(err.value)
