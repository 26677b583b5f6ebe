"""The SQLite profile store under the name callers knew first (`ProfileStore.open(data_dir)`).

The stores live in `chatbot.storage` now: the interface is `chatbot.storage.protocol.Store`, the back end is
chosen by `chatbot.storage.factory.open_store(settings)`, and this name is `chatbot.storage.sqlite.SQLiteStore`.
"""

from __future__ import annotations

from chatbot.storage.sqlite import DB_NAME, SQLiteStore

ProfileStore = SQLiteStore

__all__ = ["DB_NAME", "ProfileStore"]
