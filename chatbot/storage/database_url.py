"""The database URL as people may see it: the password is never shown, in messages or logs.

`TASTEBUD_DATABASE_URL=postgresql://user:password@host:port/db` holds a secret; every message that names the
database uses `redact_url` (`postgresql://user:***@host:port/db`), and a driver's own message passes through
`scrub_secrets` first, because some (an unreadable connection string) repeat the string they were given.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

POSTGRES_SCHEMES = ("postgresql", "postgres")
UNREADABLE = "<a database URL that cannot be read>"
_QUERY_PASSWORD = re.compile(r"(?i)(^|&)(password)=[^&#]*")
_HIDDEN = r"\1\2=***"


def is_postgres_url(url: str) -> bool:
    """True when the URL names a PostgreSQL database (postgresql:// or postgres://)."""
    return url.split(":", 1)[0].lower() in POSTGRES_SCHEMES


def redact_url(url: str) -> str:
    """The URL with its password, in the user part or a `password=` parameter, shown as ***; the rest as written."""
    try:
        urlsplit(url)
    except ValueError:
        return UNREADABLE
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _QUERY_PASSWORD.sub(_HIDDEN, url)
    end = min([i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0], default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:***@{hostport}" if has_password else f"{user}@{hostport}"
    path, qmark, query = tail.partition("?")
    if qmark:
        query, hash_, fragment = query.partition("#")
        tail = f"{path}?{_QUERY_PASSWORD.sub(_HIDDEN, query)}{hash_}{fragment}"
    return f"{scheme}://{netloc}{tail}"


def url_passwords(url: str) -> list[str]:
    """The password(s) in the URL as written and percent-decoded (what a driver's message might repeat)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    if parts.password:
        found += [parts.password, unquote(parts.password)]
    for match in re.finditer(r"(?i)(?:^|&)password=([^&]*)", parts.query):
        found += [match.group(1), unquote(match.group(1))]
    return sorted({p for p in found if p}, key=len, reverse=True)


def scrub_secrets(message: str, url: str) -> str:
    """`message` with the URL replaced by its redacted form and any password in it by ***."""
    message = message.replace(url, redact_url(url))
    for password in url_passwords(url):
        message = message.replace(password, "***")
    return message
