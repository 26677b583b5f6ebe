"""Which back end keeps the profiles: a setting (`TASTEBUD_DATABASE_URL`), read once at the entry point."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.profile_schema import ProfileError
from chatbot.storage.database_url import is_postgres_url, redact_url
from chatbot.storage.protocol import Store

if TYPE_CHECKING:
    from chatbot.config import Settings


def open_store(settings: Settings) -> Store:
    """PostgreSQL when TASTEBUD_DATABASE_URL is set, else SQLite in the data dir (created or migrated as needed)."""
    secret = settings.database_url
    url = secret.get_secret_value().strip() if secret is not None else ""
    if not url:
        from chatbot.storage.sqlite import SQLiteStore

        return SQLiteStore.open(settings.resolved_data_dir)
    if not is_postgres_url(url):
        raise ProfileError(f"TASTEBUD_DATABASE_URL must be a postgresql:// URL, not {redact_url(url)}; leave it "
                           "unset to keep profiles in SQLite in the data dir")
    from chatbot.storage.postgres import PostgresStore

    return PostgresStore.open(url, pool_size=settings.database_pool_size, timeout_s=settings.database_timeout_s)
