"""Hybrid search: dense vectors in Chroma + BM25 keywords, fused by reciprocal rank, filtered exactly.

Ranked lists fused per query: dense (MiniLM cosine), keyword (BM25 over titles, people, genres, plot), exact
title match, and the films of any full person name the query mentions (ordered by meaning).

`build_index` embeds the catalog (cached by content hash), writes a new build aside (item snapshot, vectors,
BM25 index, Chroma collection) and only then points `index/active.json` at it; the old build is dropped after
the switch, so a build that fails halfway leaves the previous index serving.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.embeddings import Embedder, MiniLMEmbedder, VectorCache, embedder_name, item_text
from retrieval.fields import FILM_KINDS, FieldKinds, attribute_facts, field_kinds
from retrieval.filters import ColumnIndex, CompiledFilters, chroma_metadata, compile_filters
from retrieval.schema import CatalogSchema
from retrieval.schema_file import schema_for
from retrieval.store import (
    ChromaStore,
    IndexBuild,
    NumpyStore,
    VectorStore,
    active_build,
    index_dir,
    remove_build_files,
    storage_error,
    write_active,
)
from retrieval.text import fold
from retrieval.types import Candidate, Filters, Item
from retrieval.errors import CatalogError, FilterError, IndexUnavailable, TastebudError

if TYPE_CHECKING:
    import bm25s

RRF_K = 60  # reciprocal rank fusion constant: score = sum over lists of weight / (RRF_K + rank)
DENSE_WEIGHT = 1.0
KEYWORD_WEIGHT = 1.0
TITLE_WEIGHT = 2.0  # a query that is exactly an item's title puts that item first
PERSON_WEIGHT = 1.0  # a full person name in the query ("Martin Scorsese") adds that person's films, by meaning
MAX_K = 1000
MIN_FETCH = 50  # each retriever contributes at least this many candidates before fusion
EXACT_SCAN_MAX = 10_000  # a filter passing at most this many items is answered by an exact numpy scan
OVERFETCH_MIN_SHARE_PCT = 5  # below this share of passing items an exact scan beats HNSW over-fetching
_QUERY_CACHE = 256

# Words that carry no keyword evidence in a request for a film.
STOPWORDS = frozenset("""
a an the and or but of in on at to for from by with without about into over under than then so as is are be
was were been being it its this that these those i me my we our you your he she they them his her their what
which who whom whose when where why how all any some no not nor only very too can could should would will just
do does did done have has had get got want wants like likes something anything movie movies film films watch
please tonight
""".split())
_WORD = re.compile(r"[a-z0-9]+")


def keyword_tokens(text: str) -> list[str]:
    """Lower-cased, accent-free word tokens without stopwords ("Amélie" and "amelie" match)."""
    return [t for t in _WORD.findall(fold(text)) if t not in STOPWORDS]


def _title_key(title: str) -> str:
    """A title reduced for exact matching: no year, no leading/trailing article, words only."""
    t = re.sub(r"\(\d{4}\)", " ", title.lower())
    t = re.sub(r",\s*(the|a|an)\s*$", " ", t)
    words = _WORD.findall(fold(t))
    if words and words[0] in ("the", "a", "an"):
        words = words[1:]
    return " ".join(words)


def _name_words(text: str) -> list[str]:
    """Lower-cased, accent-free words of a name or query, stopwords kept ("Jean-Pierre" -> jean, pierre)."""
    return _WORD.findall(fold(text))


def keyword_document(item: Item, schema: CatalogSchema | None = None) -> list[str]:
    """The BM25 tokens of an item: title twice, people, genres, year, the plot, then its schema's own fields."""
    parts = [item.title, item.title, " ".join(item.directors), " ".join(item.cast[:10]), " ".join(item.writers),
             " ".join(item.genres), str(item.year or ""), item.plot or "", *attribute_facts(item, schema, 2000)]
    return keyword_tokens(" ".join(parts)) or ["<empty>"]


@dataclass(frozen=True)
class IndexReport:
    """What `build_index` did."""

    n_items: int
    n_embedded: int  # items whose text was embedded now (the rest came from the cache)
    seconds: float
    build_id: str
    location: str  # where the vectors live (directory or Chroma URL)
    skipped: bool = False  # the index was already current

    def __str__(self) -> str:
        """One line for people."""
        if self.skipped:
            return f"search index is current ({self.n_items} items, build {self.build_id})"
        return (f"search index built: {self.n_items} items ({self.n_embedded} embedded now, "
                f"{self.n_items - self.n_embedded} from cache) in {self.seconds:.1f} s -> {self.location}")


def _write_build_files(path: Path, items: list[Item], vectors: np.ndarray, schema: CatalogSchema,
                       progress: bool) -> None:
    """Write a build's item snapshot, ids, vectors and BM25 index into its (new) directory."""
    import bm25s

    path.mkdir(parents=True, exist_ok=False)
    with open(path / "items.jsonl", "w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
    (path / "ids.json").write_text(json.dumps([i.id for i in items]), encoding="utf-8")
    np.save(path / "vectors.npy", vectors.astype(np.float32))
    retriever = bm25s.BM25()
    retriever.index([keyword_document(i, schema) for i in items], show_progress=progress)
    retriever.save(str(path / "bm25"))


def _is_current(data_dir: Path, build: IndexBuild, chash: str, embedder: Embedder, chroma_url: str | None) -> bool:
    """True when the active build already serves this catalog with this embedder and store."""
    if (build.catalog_hash, build.embedder, build.dim, build.chroma_url) != (
            chash, embedder_name(embedder), embedder.dim, chroma_url):
        return False
    if not (build.path / "vectors.npy").exists() or not (build.path / "bm25").exists():
        return False
    try:
        return ChromaStore(data_dir, chroma_url).open(build.collection).count() == build.n_items
    except IndexUnavailable:
        return False


def _write_build(data_dir: Path, store: ChromaStore, items: list[Item], chash: str, embedder: Embedder,
                 chroma_url: str | None, build_id: str, cache_dir: Path | None, progress: bool) -> int:
    """Embed, write and store a new build, then make it the active one; returns how many items were embedded now.

    On failure (or interruption) the half-built files and collection are removed and the active index is untouched.
    """
    path = index_dir(data_dir) / "builds" / build_id
    collection_name = f"items-{build_id}"
    created_collection = False
    try:
        try:
            index_dir(data_dir).mkdir(parents=True, exist_ok=True)
            cache = VectorCache(data_dir, embedder, cache_dir)
            schema = schema_for(data_dir)
            vectors, n_embedded = cache.vectors_for([item_text(i, schema) for i in items], progress=progress)
            cache.save()
            _write_build_files(path, items, vectors, schema, progress)
        except OSError as exc:
            raise storage_error("write the search index", index_dir(data_dir), exc) from exc
        collection = store.create(collection_name)
        created_collection = True
        try:
            kinds = field_kinds(schema)
            collection.add([i.id for i in items], vectors, [chroma_metadata(i, kinds) for i in items],
                           progress=progress)
        except OSError as exc:
            raise storage_error("store the item vectors", store.location, exc) from exc
        build = IndexBuild(build_id=build_id, collection=collection_name, catalog_hash=chash,
                           embedder=embedder_name(embedder), dim=int(embedder.dim), n_items=len(items),
                           chroma_url=chroma_url, path=path)
        try:
            write_active(data_dir, build)
        except OSError as exc:
            raise storage_error("switch to the new index", index_dir(data_dir), exc) from exc
    except (TastebudError, KeyboardInterrupt, MemoryError):
        if created_collection:
            try:
                store.drop(collection_name)
            except IndexUnavailable:
                pass  # the half-built collection is left behind; the active index is untouched
        remove_build_files(path)
        raise
    return n_embedded


def build_index(data_dir: Path, chroma_url: str | None = None, embedder: Embedder | None = None,
                progress: bool = True, force: bool = False, cache_dir: Path | None = None) -> IndexReport:
    """Build (or refresh) the search index of the data dir's catalog; embeds only items whose text changed.

    `cache_dir` moves the embedding cache out of the data dir (default `<data_dir>/index`), so several data dirs
    of the same catalog, such as test sessions, embed it once.
    """
    from retrieval.catalog import catalog_hash, load_catalog

    started = time.perf_counter()
    data_dir = Path(data_dir)
    items = load_catalog(data_dir)
    if not items:
        raise CatalogError(f"the catalog in {data_dir} is empty: nothing to index")
    if len({i.id for i in items}) != len(items):
        raise CatalogError("the catalog has duplicate ids; rebuild or re-import it")
    chash = catalog_hash(data_dir)
    embedder = embedder or MiniLMEmbedder()
    try:
        previous: IndexBuild | None = active_build(data_dir)
    except IndexUnavailable:
        previous = None
    store = ChromaStore(data_dir, chroma_url)
    if previous is not None and not force and _is_current(data_dir, previous, chash, embedder, chroma_url):
        return IndexReport(len(items), 0, time.perf_counter() - started, previous.build_id, store.location,
                           skipped=True)

    build_id = f"{chash[:12]}-{uuid.uuid4().hex[:8]}"
    n_embedded = _write_build(data_dir, store, items, chash, embedder, chroma_url, build_id, cache_dir, progress)
    if previous is not None and previous.build_id != build_id:
        try:
            ChromaStore(data_dir, previous.chroma_url).drop(previous.collection)
        except IndexUnavailable:
            pass  # an old server may be gone; its collection is simply orphaned
        remove_build_files(previous.path)
    return IndexReport(len(items), n_embedded, time.perf_counter() - started, build_id, store.location)


def exact_dense(vectors: np.ndarray, vector: np.ndarray, mask: np.ndarray | None, n: int
                ) -> list[tuple[int, float]]:
    """Brute-force cosine top-n over the rows where `mask` is true (all rows when None)."""
    positions = np.arange(len(vectors)) if mask is None else np.flatnonzero(mask)
    if len(positions) == 0:
        return []
    # einsum, not `@`: a BLAS matrix-vector product with 2 threads on 2 busy cores was 30-70x slower here
    sims = np.einsum("ij,j->i", vectors if mask is None else vectors[positions], vector)  # (M,)
    take = min(n, len(positions))
    top = np.argpartition(-sims, take - 1)[:take]
    top = top[np.argsort(-sims[top], kind="stable")]
    return [(int(positions[t]), float(sims[t])) for t in top]


def filtered_dense(store: VectorStore, vectors: np.ndarray, pos: dict[str, int], vector: np.ndarray,
                   mask: np.ndarray | None, n: int) -> list[tuple[int, float]]:
    """Dense top-n under an exact mask: HNSW alone, HNSW over-fetch + mask, or an exact scan of a small subset.

    Chroma's own `where` pre-filter (kept as `Searcher.prefilter = "chroma"`) was measured far slower on these
    machines: p50 ~600 ms at 100k items for `year >= 2000` versus ~6 ms here (see `tastebud bench search`).
    """
    total = len(vectors)
    if mask is None:
        return [(pos[i], s) for i, s in store.query(vector, n) if i in pos]
    n_pass = int(mask.sum())
    if n_pass == 0:
        return []
    if n_pass <= EXACT_SCAN_MAX or n_pass * 100 < total * OVERFETCH_MIN_SHARE_PCT:
        return exact_dense(vectors, vector, mask, n)
    fetch = min(total, int(math.ceil(n * total / n_pass * 1.5)) + 10)
    hits = store.query(vector, fetch)
    out = [(pos[i], s) for i, s in hits if i in pos and mask[pos[i]]][:n]
    if len(out) >= min(n, n_pass):
        return out
    return exact_dense(vectors, vector, mask, n)


class Searcher:
    """Finds catalog items for a text and exact filters; opened on the active index without embedding anything."""

    def __init__(self, build: IndexBuild, items: list[Item], vectors: np.ndarray, store: VectorStore,
                 keyword_index: bm25s.BM25, embedder: Embedder, kinds: FieldKinds = FILM_KINDS) -> None:
        self.build = build
        self.ids: list[str] = [i.id for i in items]
        self.items: dict[str, Item] = {i.id: i for i in items}
        self.vectors = vectors  # (N, dim) float32, unit rows, in `ids` order
        self.store = store
        self.keyword_index = keyword_index
        self.embedder = embedder
        self._pos = {id_: n for n, id_ in enumerate(self.ids)}
        self.kinds = kinds  # the catalog's filterable fields (its schema's, beyond the film ones)
        self.columns = ColumnIndex(items, kinds)
        self.prefilter = "mask"  # "mask": exact numpy mask + HNSW over-fetch or exact scan; "chroma": Chroma where
        self._popularity = np.array([math.log1p(max(i.n_ratings, 0)) for i in items], dtype=np.float32)
        self._by_popularity = np.argsort(-self._popularity, kind="stable")
        self._titles: dict[str, list[int]] = {}
        for n, item in enumerate(items):
            self._titles.setdefault(_title_key(item.title), []).append(n)
        self._people: dict[str, list[int]] = {}  # full name as words ("martin scorsese") -> positions
        for n, item in enumerate(items):
            for name in dict.fromkeys(self._item_people(item)):
                words = _name_words(name)
                if len(words) >= 2:
                    self._people.setdefault(" ".join(words), []).append(n)
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, data_dir: Path, chroma_url: str | None = None, embedder: Embedder | None = None) -> Searcher:
        """Open the active index of a data dir (IndexUnavailable with the command to run when there is none)."""
        import bm25s

        data_dir = Path(data_dir)
        build = active_build(data_dir)
        embedder = embedder or MiniLMEmbedder()
        if embedder.dim != build.dim or embedder_name(embedder) != build.embedder:
            raise IndexUnavailable(f"the index was built with the embedder {build.embedder!r} ({build.dim} dims), "
                                   f"not {embedder_name(embedder)!r}: run `tastebud index` to rebuild it")
        try:
            with open(build.path / "items.jsonl", encoding="utf-8") as fh:
                items = [Item.from_dict(json.loads(line)) for line in fh if line.strip()]
            vectors = np.load(build.path / "vectors.npy", allow_pickle=False)
            keyword_index = bm25s.BM25.load(str(build.path / "bm25"))
        except (OSError, ValueError) as exc:
            raise IndexUnavailable(f"the index files in {build.path} are unreadable ({exc}); "
                                   "run `tastebud index` to rebuild") from exc
        if len(items) != len(vectors):
            raise IndexUnavailable(f"the index in {build.path} is inconsistent; run `tastebud index` to rebuild")
        store = ChromaStore(data_dir, chroma_url or build.chroma_url).open(build.collection)
        return cls(build, items, vectors, store, keyword_index, embedder, field_kinds(schema_for(data_dir)))

    @classmethod
    def in_memory(cls, items: list[Item], embedder: Embedder, schema: CatalogSchema | None = None) -> Searcher:
        """A searcher over items held in memory (exact numpy store, BM25 in memory): for tests and tiny catalogs."""
        import bm25s

        if not items:
            raise CatalogError("no items to search")
        vectors = embedder.embed([item_text(i, schema) for i in items])
        keyword_index = bm25s.BM25()
        keyword_index.index([keyword_document(i, schema) for i in items], show_progress=False)
        build = IndexBuild(build_id="in-memory", collection="", catalog_hash="", embedder=embedder_name(embedder),
                           dim=int(embedder.dim), n_items=len(items), chroma_url=None, path=Path("."))
        return cls(build, items, vectors, NumpyStore([i.id for i in items], vectors), keyword_index, embedder,
                   field_kinds(schema))

    # ------------------------------------------------------------ query side
    def embed_query(self, text: str) -> np.ndarray:
        """The query's unit vector, shape (dim,), float32 (recent queries are cached)."""
        key = text.strip()
        with self._lock:
            vec = self._query_cache.get(key)
            if vec is not None:
                self._query_cache.move_to_end(key)
                return vec
        vec = np.asarray(self.embedder.embed([key])[0], dtype=np.float32)
        with self._lock:
            self._query_cache[key] = vec
            if len(self._query_cache) > _QUERY_CACHE:
                self._query_cache.popitem(last=False)
        return vec

    def mask(self, cf: CompiledFilters) -> np.ndarray | None:
        """Exact boolean mask (N,) of the items passing the filters; None when nothing is constrained."""
        return self.columns.mask(cf.where)

    def dense(self, vector: np.ndarray, cf: CompiledFilters, n: int) -> list[tuple[int, float]]:
        """Up to n (position, cosine) pairs passing the filters, most similar first."""
        if self.prefilter == "chroma" and cf.chroma is not None:
            return self._dense_chroma_where(vector, cf, n)
        return filtered_dense(self.store, self.vectors, self._pos, vector, self.mask(cf), n)

    def _dense_chroma_where(self, vector: np.ndarray, cf: CompiledFilters, n: int) -> list[tuple[int, float]]:
        """The alternative strategy: Chroma's own `where` pre-filter, then the exact mask."""
        mask = self.mask(cf)
        fetch = max(n, MIN_FETCH)
        hits = self.store.query(vector, fetch, cf.chroma)
        out = [(self._pos[i], s) for i, s in hits if i in self._pos and (mask is None or mask[self._pos[i]])]
        if len(out) >= n or len(hits) < fetch:
            return out[:n]
        return exact_dense(self.vectors, vector, mask, n)

    def keyword(self, text: str, cf: CompiledFilters, n: int) -> list[tuple[int, float]]:
        """Up to n (position, BM25 score) pairs for items sharing words with the text and passing the filters."""
        token_ids = self.keyword_index.get_tokens_ids(keyword_tokens(text))
        if not token_ids:
            return []
        scores = self.keyword_index.get_scores_from_ids(token_ids)  # (N,)
        keep = scores > 0
        mask = self.mask(cf)
        if mask is not None:
            keep &= mask
        positive = np.flatnonzero(keep)
        if len(positive) > n:
            positive = positive[np.argpartition(-scores[positive], n - 1)[:n]]
        order = positive[np.argsort(-scores[positive], kind="stable")]
        return [(int(p), float(scores[p])) for p in order]

    def _title_hits(self, text: str, cf: CompiledFilters) -> list[int]:
        """Positions of items whose title is exactly the query (most popular first)."""
        mask = self.mask(cf)
        hits = [p for p in self._titles.get(_title_key(text), []) if mask is None or mask[p]]
        return sorted(hits, key=lambda p: -self._popularity[p])

    def people_in(self, text: str) -> list[str]:
        """Full names of catalog people mentioned in the text (2-4 word windows), longest first."""
        words = _name_words(text)
        found: list[str] = []
        for size in (4, 3, 2):
            for start in range(0, len(words) - size + 1):
                name = " ".join(words[start:start + size])
                if name in self._people and not any(name in f for f in found):
                    found.append(name)
        return found

    def people_named(self, text: str) -> list[str]:
        """The catalog's own spelling of every full person name in the text ("steven spielberg" -> "Steven Spielberg")."""
        spelled: list[str] = []
        for name in self.people_in(text):
            for pos in self._people.get(name, [])[:1]:
                spelled += [p for p in self._rows_people(pos) if " ".join(_name_words(p)) == name][:1]
        return spelled

    def _rows_people(self, pos: int) -> tuple[str, ...]:
        """Directors, cast and writers of the item at a position (a schema catalog's people too)."""
        return self._item_people(self.items[self.ids[pos]])

    def _item_people(self, item: Item) -> tuple[str, ...]:
        """An item's people: directors, cast, writers and a schema catalog's people by role (authors, chefs)."""
        if not self.kinds.people:
            return item.people
        own = dict(item.attributes)
        return item.people + tuple(str(p) for f in sorted(self.kinds.people) for p in (own.get(f) or []))

    def _person_hits(self, text: str, vector: np.ndarray, cf: CompiledFilters, n: int) -> list[int]:
        """Positions of items involving a person named in the query, most similar to the query first."""
        names = self.people_in(text)
        if not names:
            return []
        mask = self.mask(cf)
        positions = sorted({p for name in names for p in self._people[name] if mask is None or mask[p]})
        if not positions:
            return []
        sims = np.einsum("ij,j->i", self.vectors[positions], vector)  # (M,)
        return [positions[t] for t in np.argsort(-sims, kind="stable")[:n]]

    def search(self, text: str, filters: Filters = Filters(), k: int = 10) -> list[Candidate]:
        """The k best items for the text that pass every filter (empty text: the most popular matching items)."""
        if not isinstance(k, int) or k < 1 or k > MAX_K:
            raise FilterError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")
        cf = compile_filters(filters, self.kinds)
        text = (text or "").strip()
        if not text:
            if cf.where is None:
                raise FilterError("say what you are looking for or give --where filters")
            return self._popular(cf, k)
        n = max(k * 2, MIN_FETCH)
        vector = self.embed_query(text)
        dense = self.dense(vector, cf, n)
        keyword = self.keyword(text, cf, n)
        titles = self._title_hits(text, cf)
        people = self._person_hits(text, vector, cf, n)
        fused: dict[int, float] = {}
        for weight, ranked in ((DENSE_WEIGHT, [p for p, _ in dense]), (KEYWORD_WEIGHT, [p for p, _ in keyword]),
                               (TITLE_WEIGHT, titles), (PERSON_WEIGHT, people)):
            for rank, pos in enumerate(ranked, start=1):
                fused[pos] = fused.get(pos, 0.0) + weight / (RRF_K + rank)
        dense_by, keyword_by = dict(dense), dict(keyword)
        order = sorted(fused, key=lambda p: (-fused[p], -self._popularity[p], p))[:k]
        return [Candidate(item=self.items[self.ids[p]], score=fused[p], dense_score=dense_by.get(p),
                          keyword_score=keyword_by.get(p), popularity=float(self._popularity[p])) for p in order]

    def _popular(self, cf: CompiledFilters, k: int) -> list[Candidate]:
        """The k most-rated items passing the filters, scored by popularity relative to the most rated."""
        mask = self.mask(cf)
        order = self._by_popularity if mask is None else self._by_popularity[mask[self._by_popularity]]
        top = float(self._popularity.max()) if len(self._popularity) else 0.0
        return [Candidate(item=self.items[self.ids[p]], score=float(self._popularity[p]) / top if top > 0 else 0.0,
                          popularity=float(self._popularity[p])) for p in order[:k]]

    def stats(self) -> dict[str, Any]:
        """Facts about the open index, for reports."""
        return {"n_items": len(self.ids), "build": self.build.build_id, "embedder": self.build.embedder,
                "dim": self.build.dim, "chroma_url": self.build.chroma_url}
