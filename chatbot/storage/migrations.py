"""The profile database's schema on each back end, as ordered migrations, and the version both reach.

Entry i of a list moves that back end's schema from version i to i + 1; append, never edit a released entry,
and keep the two lists the same length (a test checks): a version number means the same tables everywhere.
The tables and columns are the same on both; only the dialect differs (SQLite's rowid and `INTEGER PRIMARY
KEY` against PostgreSQL's identity columns).
"""

from __future__ import annotations

# the columns that hold what a person said, chose or is called: no planner statistics are kept on them
PERSONAL_COLUMNS = (
    ("profiles", ("id",)),
    ("sessions", ("id", "profile_id", "state_json")),
    ("turns", ("session_id", "profile_id", "user_message", "reply", "items_json")),
    ("feedback", ("profile_id", "session_id", "item_id")),
)

SQLITE_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE profiles (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL
        )""",
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            state_json TEXT,
            UNIQUE (id, profile_id)
        )""",
        "CREATE INDEX sessions_by_profile ON sessions(profile_id)",
        # profile_id is repeated on turns and feedback so every child row names its profile, and the
        # composite key makes sure it is the profile that owns the session.
        """CREATE TABLE turns (
            session_id TEXT NOT NULL,
            profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
            n INTEGER NOT NULL,
            user_message TEXT NOT NULL,
            reply TEXT NOT NULL,
            items_json TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (session_id, n),
            FOREIGN KEY (session_id, profile_id) REFERENCES sessions(id, profile_id) ON DELETE CASCADE
        )""",
        "CREATE INDEX turns_by_profile ON turns(profile_id)",
        """CREATE TABLE feedback (
            seq INTEGER PRIMARY KEY,
            profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
            session_id TEXT,
            item_id TEXT NOT NULL,
            signal TEXT NOT NULL CHECK (signal IN ('like', 'dislike', 'seen')),
            created_at TEXT NOT NULL,
            FOREIGN KEY (session_id, profile_id) REFERENCES sessions(id, profile_id) ON DELETE CASCADE
        )""",
        "CREATE INDEX feedback_by_profile ON feedback(profile_id, item_id)",
        "CREATE INDEX feedback_by_session ON feedback(session_id, profile_id)",
    ),
    (),  # 2: PostgreSQL's planner statistics (see there); SQLite keeps no sampled values
)

POSTGRES_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE profiles (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL
        )""",
        # seq gives sessions a stable creation order (SQLite's rowid plays that part there)
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            seq BIGINT GENERATED ALWAYS AS IDENTITY,
            profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            state_json TEXT,
            UNIQUE (id, profile_id)
        )""",
        "CREATE INDEX sessions_by_profile ON sessions(profile_id)",
        """CREATE TABLE turns (
            session_id TEXT NOT NULL,
            profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
            n INTEGER NOT NULL,
            user_message TEXT NOT NULL,
            reply TEXT NOT NULL,
            items_json TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (session_id, n),
            FOREIGN KEY (session_id, profile_id) REFERENCES sessions(id, profile_id) ON DELETE CASCADE
        )""",
        "CREATE INDEX turns_by_profile ON turns(profile_id)",
        """CREATE TABLE feedback (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
            session_id TEXT,
            item_id TEXT NOT NULL,
            signal TEXT NOT NULL CHECK (signal IN ('like', 'dislike', 'seen')),
            created_at TEXT NOT NULL,
            FOREIGN KEY (session_id, profile_id) REFERENCES sessions(id, profile_id) ON DELETE CASCADE
        )""",
        "CREATE INDEX feedback_by_profile ON feedback(profile_id, item_id)",
        "CREATE INDEX feedback_by_session ON feedback(session_id, profile_id)",
    ),
    # 2: ANALYZE (autovacuum runs it) copies up to 100 sample values of each column into pg_statistic, where
    # forget-me's rewrite of the tables cannot reach them: a forgotten person's ids and words stayed on disk.
    # Statistics target 0 keeps these columns out of it; re-declaring the type drops what was gathered before
    # (those old pg_statistic tuples are then dead, their bytes left until the space is reused).
    tuple(f"ALTER TABLE {table} " + ", ".join(f"ALTER COLUMN {c} SET STATISTICS 0, ALTER COLUMN {c} TYPE TEXT"
                                               for c in columns)
          for table, columns in PERSONAL_COLUMNS),
)

SCHEMA_VERSION = len(SQLITE_MIGRATIONS)
