"""The vector store: Chroma, embedded on disk by default or a Chroma server over HTTP, and the active-index pointer.

Layout under `<data_dir>/index/`:
- `active.json`: which build serves (build id, Chroma collection name, catalog hash, embedder). Replaced atomically.
- `builds/<build_id>/`: that build's item ids, vectors and BM25 index.
- `chroma/`: the embedded Chroma store (collections named `items-<build_id>`); unused with a Chroma server.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

import numpy as np

from retrieval.errors import IndexUnavailable

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

ACTIVE_FILE = "active.json"
# HNSW settings: cosine space; ef_search 100 keeps recall ~1 at these sizes while staying in single-digit ms.
HNSW_CONFIG: dict[str, Any] = {"space": "cosine", "ef_construction": 100, "ef_search": 100, "max_neighbors": 16}
ADD_BATCH = 2000


def index_dir(data_dir: Path) -> Path:
    """The index directory of a data dir."""
    return Path(data_dir) / "index"


@dataclass(frozen=True)
class IndexBuild:
    """One built index: where its files live and which Chroma collection holds its vectors."""

    build_id: str
    collection: str
    catalog_hash: str
    embedder: str
    dim: int
    n_items: int
    chroma_url: str | None
    path: Path

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (path relative to the index dir)."""
        out = asdict(self)
        out["path"] = self.path.name
        return out


def active_build(data_dir: Path) -> IndexBuild:
    """The build that serves searches now; IndexUnavailable (run `tastebud index`) when there is none."""
    pointer = index_dir(data_dir) / ACTIVE_FILE
    try:
        data = json.loads(pointer.read_text(encoding="utf-8"))
        return IndexBuild(**{**data, "path": index_dir(data_dir) / "builds" / data["path"]})
    except FileNotFoundError:
        raise IndexUnavailable(f"no search index in {Path(data_dir)}: run `tastebud index` "
                               "(or `tastebud setup`) to build it") from None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise IndexUnavailable(f"the index pointer {pointer} is unreadable ({exc}); run `tastebud index`") from exc


def write_active(data_dir: Path, build: IndexBuild) -> None:
    """Point `active.json` at a build, atomically (write aside, then os.replace)."""
    pointer = index_dir(data_dir) / ACTIVE_FILE
    tmp = pointer.with_name(f".{ACTIVE_FILE}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(build.to_json(), fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, pointer)


def storage_error(what: str, where: Path | str, exc: OSError) -> IndexUnavailable:
    """An IndexUnavailable that says in words why writing the index failed."""
    if exc.errno == errno.ENOSPC:
        reason = "the disk is full"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "the directory is not writable"
    else:
        reason = exc.strerror or str(exc)
    return IndexUnavailable(f"could not {what} in {where}: {reason}. The previous index (if any) still serves; "
                            "free space or fix permissions, then run `tastebud index` again")


class VectorStore(Protocol):
    """Nearest-neighbour search over one collection of unit vectors, with an optional metadata pre-filter."""

    def query(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """Up to n (id, cosine similarity) pairs, most similar first."""
        ...


class NumpyStore:
    """An in-memory exact store over a vector matrix: the fake `VectorStore` for tests and tiny catalogs."""

    def __init__(self, ids: list[str], vectors: np.ndarray) -> None:
        self.ids = list(ids)
        self.vectors = np.asarray(vectors, dtype=np.float32)  # (N, dim), unit rows

    def query(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """Exact top-n by cosine; a `where` is ignored (callers apply the exact mask themselves)."""
        if n <= 0 or not self.ids:
            return []
        sims = np.einsum("ij,j->i", self.vectors, np.asarray(vector, dtype=np.float32))  # (N,)
        top = np.argsort(-sims, kind="stable")[:n]
        return [(self.ids[t], float(sims[t])) for t in top]


class ChromaCollection:
    """One Chroma collection of item vectors (cosine space, embeddings always passed in)."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    @property
    def name(self) -> str:
        """The collection's name."""
        return self._collection.name

    def count(self) -> int:
        """Number of vectors stored."""
        return int(self._collection.count())

    def add(self, ids: list[str], vectors: np.ndarray, metadatas: list[dict[str, Any]],
            progress: bool = False) -> None:
        """Add vectors with their metadata in batches (tqdm bar when `progress`)."""
        from tqdm.auto import tqdm

        with tqdm(total=len(ids), desc="storing vectors", unit="item", disable=not progress) as bar:
            for start in range(0, len(ids), ADD_BATCH):
                end = start + ADD_BATCH
                self._collection.add(ids=ids[start:end], embeddings=vectors[start:end],
                                     metadatas=metadatas[start:end])  # type: ignore[arg-type]
                bar.update(min(end, len(ids)) - start)

    def query(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """Up to n (id, cosine similarity) pairs nearest the vector among items passing `where`."""
        if n <= 0:
            return []
        from chromadb.errors import ChromaError

        try:
            res = self._collection.query(query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=n,
                                         where=where, include=["distances"])  # type: ignore[list-item]
        except ChromaError as exc:
            raise IndexUnavailable(f"the vector store failed to answer ({exc}); try `tastebud index`") from exc
        except (OSError, ConnectionError) as exc:
            raise IndexUnavailable(f"the vector store cannot be reached ({exc})") from exc
        ids = res["ids"][0]
        dists = (res.get("distances") or [[]])[0] or []
        return [(i, 1.0 - float(d)) for i, d in zip(ids, dists)]


class ChromaStore:
    """A Chroma client: embedded `PersistentClient` under the data dir, or `HttpClient` when a URL is given."""

    def __init__(self, data_dir: Path, chroma_url: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.chroma_url = chroma_url
        self._client: ClientAPI | None = None

    @property
    def location(self) -> str:
        """Where the vectors live, for messages."""
        return self.chroma_url or str(index_dir(self.data_dir) / "chroma")

    def client(self) -> ClientAPI:
        """The Chroma client, created on first use (telemetry off, no default embedding function ever used)."""
        if self._client is not None:
            return self._client
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.chroma_url:
            url = urlparse(self.chroma_url if "://" in self.chroma_url else f"http://{self.chroma_url}")
            if not url.hostname:
                raise IndexUnavailable(f"the Chroma URL {self.chroma_url!r} has no host (expected http://host:port)")
            try:
                self._client = chromadb.HttpClient(host=url.hostname, port=url.port or 8000,
                                                   ssl=url.scheme == "https", settings=settings)
            except (ValueError, ConnectionError, OSError) as exc:  # chromadb says "Could not connect" as ValueError
                raise IndexUnavailable(f"cannot reach the Chroma server at {self.chroma_url} ({exc}); "
                                       "start it or unset TASTEBUD_CHROMA_URL to use the embedded store") from exc
        else:
            path = index_dir(self.data_dir) / "chroma"
            try:
                path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(path), settings=settings)
            except OSError as exc:
                raise storage_error("open the vector store", path, exc) from exc
        return self._client

    def create(self, name: str) -> ChromaCollection:
        """Create a new empty collection (cosine space, no embedding function)."""
        from chromadb.errors import ChromaError

        try:
            col = self.client().create_collection(name, embedding_function=None,
                                                  configuration={"hnsw": dict(HNSW_CONFIG)})  # type: ignore[arg-type]
        except ChromaError as exc:
            raise IndexUnavailable(f"could not create the collection {name!r} in {self.location}: {exc}") from exc
        return ChromaCollection(col)

    def open(self, name: str) -> ChromaCollection:
        """Open an existing collection; IndexUnavailable (run `tastebud index`) when it is gone."""
        from chromadb.errors import ChromaError, NotFoundError

        try:
            col = self.client().get_collection(name, embedding_function=None)  # type: ignore[arg-type]
        except NotFoundError:
            raise IndexUnavailable(f"the vector collection {name!r} is missing from {self.location}: "
                                   "run `tastebud index` to rebuild it") from None
        except (ChromaError, ValueError) as exc:
            raise IndexUnavailable(f"could not open the vector collection {name!r} in {self.location}: {exc}") from exc
        return ChromaCollection(col)

    def drop(self, name: str) -> None:
        """Delete a collection if it exists (used for old builds and failed ones)."""
        from chromadb.errors import ChromaError, NotFoundError

        try:
            self.client().delete_collection(name)
        except (NotFoundError, ValueError):
            pass
        except ChromaError as exc:
            raise IndexUnavailable(f"could not delete the collection {name!r}: {exc}") from exc

    def names(self) -> list[str]:
        """Names of the collections in the store."""
        return [c.name if hasattr(c, "name") else str(c) for c in self.client().list_collections()]


def remove_build_files(path: Path) -> None:
    """Delete a build directory, ignoring one that is already gone."""
    shutil.rmtree(path, ignore_errors=True)
