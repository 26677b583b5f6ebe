"""Where profiles, sessions, turns and feedback are kept: one interface (`protocol.Store`), two back ends.

`factory.open_store(settings)` picks the back end: `sqlite.SQLiteStore` (the default, `profiles.sqlite` in
the data dir) or `postgres.PostgresStore` (`TASTEBUD_DATABASE_URL=postgresql://…`, several workers). Their
queries live once in `sql.SqlStore`, their tables in `migrations`, forget-me's bounded scrub in `scrub`, and
`database_url` keeps the password out of every message.
"""
