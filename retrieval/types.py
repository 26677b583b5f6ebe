"""Core value types shared by every package: Item, Candidate, Filters (the exception tree is retrieval.errors)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Age ratings in order of permissiveness; a "maximum age rating" filter admits every rating up to it.
AGE_RATINGS: tuple[str, ...] = ("G", "PG", "PG-13", "R", "NC-17")

# MovieLens genre names: the closed vocabulary for `Item.genres`.
GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)

# Item fields that hold lists (filters treat them as sets).
LIST_FIELDS: tuple[str, ...] = ("genres", "directors", "cast", "writers", "languages", "countries")
# Filterable scalar fields.
SCALAR_FIELDS: tuple[str, ...] = ("id", "title", "year", "runtime_min", "age_rating", "n_ratings", "mean_rating")
# `people` is a virtual list field: directors + cast + writers.
FILTER_FIELDS: tuple[str, ...] = SCALAR_FIELDS + LIST_FIELDS + ("people",)


@dataclass(frozen=True)
class Item:
    """One catalog item; the same field names are used in files, Chroma metadata, JSON and filters."""

    id: str
    title: str
    year: int | None = None
    genres: tuple[str, ...] = ()
    runtime_min: int | None = None
    age_rating: str | None = None
    directors: tuple[str, ...] = ()
    cast: tuple[str, ...] = ()
    writers: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    awards: str | None = None
    plot: str | None = None
    n_ratings: int = 0
    mean_rating: float | None = None
    attributes: tuple[tuple[str, Any], ...] = ()  # extra columns of an imported catalog, kept as (name, value)

    @property
    def people(self) -> tuple[str, ...]:
        """Directors, cast and writers together."""
        return self.directors + self.cast + self.writers

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (lists instead of tuples, attributes as a dict)."""
        out = asdict(self)
        for name in LIST_FIELDS:
            out[name] = list(out[name])
        out["attributes"] = dict(self.attributes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Item:
        """Build from a trusted dict such as `to_dict` output (validation of outside rows is catalog.py's job)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        for name in LIST_FIELDS:
            if kwargs.get(name) is not None:
                kwargs[name] = tuple(kwargs[name])
            else:
                kwargs.pop(name, None)
        attrs = kwargs.get("attributes") or {}
        kwargs["attributes"] = tuple(sorted(attrs.items())) if isinstance(attrs, dict) else tuple(attrs)
        return cls(**kwargs)


@dataclass(frozen=True)
class Candidate:
    """A search hit: the item, its fused relevance score, and the per-retriever evidence."""

    item: Item
    score: float
    dense_score: float | None = None  # cosine similarity from the vector store, if it matched there
    keyword_score: float | None = None  # BM25 score, if it matched there
    popularity: float = 0.0  # log1p(n_ratings), for priors and tie-breaks


@dataclass(frozen=True)
class Filters:
    """Exact constraints on items; every field is optional and `None`/empty means "no constraint"."""

    genres_any: tuple[str, ...] = ()  # item must have at least one of these genres
    genres_none: tuple[str, ...] = ()  # item must have none of these genres
    year_min: int | None = None
    year_max: int | None = None
    runtime_min: int | None = None  # minutes, inclusive
    runtime_max: int | None = None  # minutes, inclusive
    max_age_rating: str | None = None  # one of AGE_RATINGS; an item with unknown rating does not pass
    languages: tuple[str, ...] = ()  # item must have at least one of these languages
    countries: tuple[str, ...] = ()  # item must have at least one of these countries
    people: tuple[str, ...] = ()  # item must involve at least one of these people (director, cast, writer)
    people_none: tuple[str, ...] = ()  # item must involve none of these people
    # any field of a catalog's schema (retrieval.fields): (field, low, high) inclusive; (field, values) sets
    ranges: tuple[tuple[str, float | None, float | None], ...] = ()  # the number lies in [low, high]
    any_of: tuple[tuple[str, tuple[str, ...]], ...] = ()  # the facet or people field holds one of the values
    none_of: tuple[tuple[str, tuple[str, ...]], ...] = ()  # it holds none of them
    exclude_ids: frozenset[str] = field(default_factory=frozenset)  # shown, rejected or otherwise excluded
    where: dict[str, Any] | None = None  # an extra Chroma-style expression (see retrieval.filters)

    def is_empty(self) -> bool:
        """True when no constraint at all is set."""
        return not any(getattr(self, f.name) for f in fields(self))
