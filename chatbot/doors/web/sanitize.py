"""Text crossing the web door: what a client sends is made encodable, what a client is told names no server path."""

from __future__ import annotations

import re

SURROGATES = re.compile("[\ud800-\udfff]")
NUL = "\x00"
REPLACEMENT = "\ufffd"
SERVER_PATH = "[server path]"
# An absolute path of two or more segments (/srv/tastebud/var/profiles.sqlite), a file: URI, a home-relative
# path, or a Windows drive path. A slash right after a word character, a dot or another slash is not the start
# of one, so URLs (http://host/path), rates (30/minute) and "and/or" pass untouched.
PATH_PATTERN = re.compile(
    r"""file:/+[^\s'"<>]+"""
    r"""|(?<![\w./~-])~?/(?!/)[^\s/'"<>()\[\]{},;:]+(?:/[^\s/'"<>()\[\]{},;:]*)+"""
    r"""|\b[A-Za-z]:\\[^\s'"<>]+"""
)


def clean_text(text: str) -> str:
    """`text` that can be encoded and stored: lone UTF-16 surrogates become U+FFFD, NUL characters go."""
    return SURROGATES.sub(REPLACEMENT, text).replace(NUL, "")


def scrub_paths(text: str, known: tuple[str, ...] = ()) -> str:
    """`text` with every server path (the `known` ones first, then anything shaped like a path) replaced."""
    for path in sorted((p for p in known if p), key=len, reverse=True):
        text = text.replace(path, SERVER_PATH)
    return clean_text(PATH_PATTERN.sub(SERVER_PATH, text))
