"""Server-Sent Events on the wire: the server writes them with `encode_sse`, clients read them with `iter_sse`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def encode_sse(kind: str, data: dict[str, Any]) -> bytes:
    """One Server-Sent Event."""
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def iter_sse(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Parse a Server-Sent Events text stream (line by line) into (event, data) pairs; for clients and tests."""
    kind, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield kind, json.loads("\n".join(data))
            kind, data = "message", []
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
