"""The catalog in a data dir: load it, hash it, read its meta record, and write it atomically.

A person's own catalog file is imported by `retrieval.catalog_import` (its names are re-exported here).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from retrieval.errors import CatalogError
from retrieval.types import Item

CATALOG_FILE = "catalog.jsonl"
META_FILE = "catalog.meta.json"


# ---------------------------------------------------------------- the catalog in a data dir
def catalog_path(data_dir: Path) -> Path:
    """Where the catalog file of a data dir lives."""
    return Path(data_dir) / CATALOG_FILE


def _missing_catalog(data_dir: Path) -> CatalogError:
    """The error for a data dir without a catalog, saying how to make one."""
    return CatalogError(
        f"there is no catalog in {data_dir}: run `tastebud data build` for the demo movie catalog, "
        "or `tastebud data import FILE` for your own"
    )


def load_catalog(data_dir: Path) -> list[Item]:
    """Every item of the data dir's catalog, in file order (CatalogError if missing or corrupt)."""
    path = catalog_path(data_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _missing_catalog(Path(data_dir)) from None
    except OSError as exc:
        raise CatalogError(f"cannot read the catalog {path}: {exc.strerror or exc}") from exc
    items: list[Item] = []
    for line_no, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(Item.from_dict(json.loads(line)))
        except (ValueError, TypeError) as exc:
            raise CatalogError(
                f"the catalog {path} is damaged at line {line_no} ({exc}); "
                "rebuild it with `tastebud data build` or re-import your file"
            ) from exc
    return items


def catalog_hash(data_dir: Path) -> str:
    """sha256 (hex) of the catalog file's bytes: changes whenever any item changes."""
    path = catalog_path(data_dir)
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise _missing_catalog(Path(data_dir)) from None
    return digest.hexdigest()


def read_meta(data_dir: Path) -> dict[str, Any]:
    """The catalog's meta record ({} when there is none or it is unreadable)."""
    try:
        return json.loads((Path(data_dir) / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_catalog(data_dir: Path, items: list[Item], meta: dict[str, Any]) -> None:
    """Write catalog.jsonl and catalog.meta.json atomically; on failure the previous catalog stays."""
    data_dir = Path(data_dir)
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise CatalogError(f"two catalog items share the id {item.id!r}; ids must be unique")
        seen.add(item.id)
    body = "".join(json.dumps(item.to_dict(), ensure_ascii=False) + "\n" for item in items).encode("utf-8")
    full_meta = {**meta, "hash": hashlib.sha256(body).hexdigest(), "n_items": len(items)}
    meta_bytes = (json.dumps(full_meta, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    target, meta_target = data_dir / CATALOG_FILE, data_dir / META_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(target, body, replace=False)
        write_atomically(meta_target, meta_bytes, replace=False)
        os.replace(_tmp_path(target), target)
        os.replace(_tmp_path(meta_target), meta_target)
    except OSError as exc:
        for path in (target, meta_target):
            with contextlib.suppress(OSError):
                _tmp_path(path).unlink()
        raise CatalogError(
            f"cannot write the catalog in {data_dir}: {exc.strerror or exc}; "
            "the previous catalog (if any) is unchanged. Check that the data dir is writable "
            "(setting TASTEBUD_DATA_DIR)"
        ) from exc


def _tmp_path(path: Path) -> Path:
    """The side file a write goes to before it replaces `path`."""
    return path.with_name(path.name + ".tmp")


def write_atomically(path: Path, data: bytes, replace: bool = True) -> None:
    """Write bytes to `path.tmp`, fsync, and (by default) move it over `path` in one step."""
    tmp = _tmp_path(path)
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    if replace:
        os.replace(tmp, path)
