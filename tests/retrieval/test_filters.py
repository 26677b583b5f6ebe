"""Exact filter semantics: every operator, null handling, case, Filters fields, errors, and the Chroma pre-filter."""

from __future__ import annotations

import pytest

from retrieval.filters import (
    chroma_metadata,
    chroma_where,
    compile_filters,
    item_matches,
    item_matches_where,
    item_row,
    parse_where,
)
from retrieval.errors import FilterError
from retrieval.types import Filters, Item

TOY = Item(id="ml:1", title="Toy Story", year=1995, genres=("Animation", "Children", "Comedy"), runtime_min=81,
           age_rating="G", directors=("John Lasseter",), cast=("Tom Hanks", "Tim Allen"),
           writers=("Joss Whedon",), languages=("English",), countries=("United States",), n_ratings=247,
           mean_rating=3.87)
GOODFELLAS = Item(id="ml:2", title="Goodfellas", year=1990, genres=("Crime", "Drama"), runtime_min=145,
                  age_rating="R", directors=("Martin Scorsese",), cast=("Robert De Niro", "Ray Liotta"),
                  languages=("English", "Italian"), countries=("United States",), n_ratings=120, mean_rating=4.2)
AMELIE = Item(id="ml:3", title="Amélie", year=2001, genres=("Comedy", "Romance"), runtime_min=122,
              age_rating="R", directors=("Jean-Pierre Jeunet",), languages=("French",), countries=("France",),
              n_ratings=80)
UNKNOWN = Item(id="ml:4", title="Mystery Reel")  # every optional field missing
ITEMS = (TOY, GOODFELLAS, AMELIE, UNKNOWN)


def matching(where: dict) -> list[str]:
    """Ids of the test items a where expression admits."""
    return [i.id for i in ITEMS if item_matches_where(i, where)]


@pytest.mark.parametrize(("where", "expected"), [
    ({"year": 1995}, ["ml:1"]),
    ({"year": {"$eq": 1990}}, ["ml:2"]),
    ({"year": {"$ne": 1995}}, ["ml:2", "ml:3", "ml:4"]),  # null passes $ne
    ({"year": {"$gt": 1995}}, ["ml:3"]),
    ({"year": {"$gte": 1995}}, ["ml:1", "ml:3"]),
    ({"year": {"$lt": 1995}}, ["ml:2"]),
    ({"year": {"$lte": 1995}}, ["ml:1", "ml:2"]),
    ({"year": {"$in": [1990, 2001]}}, ["ml:2", "ml:3"]),
    ({"year": {"$nin": [1990, 2001]}}, ["ml:1", "ml:4"]),  # null passes $nin
    ({"year": {"$gte": 1990, "$lte": 1995}}, ["ml:1", "ml:2"]),
    ({"runtime_min": {"$lte": 130}}, ["ml:1", "ml:3"]),
    ({"mean_rating": {"$gte": 4.0}}, ["ml:2"]),
    ({"n_ratings": {"$gt": 100}}, ["ml:1", "ml:2"]),
])
def test_number_operators_and_null(where: dict, expected: list[str]) -> None:
    assert matching(where) == expected


@pytest.mark.parametrize(("where", "expected"), [
    ({"genres": {"$in": ["animation", "ROMANCE"]}}, ["ml:1", "ml:3"]),  # case-insensitive
    ({"genres": {"$nin": ["Comedy"]}}, ["ml:2", "ml:4"]),  # empty list passes $nin
    ({"genres": {"$contains": "crime"}}, ["ml:2"]),
    ({"genres": "Drama"}, ["ml:2"]),  # $eq on a list = contains
    ({"genres": {"$ne": "Comedy"}}, ["ml:2", "ml:4"]),
    ({"people": {"$contains": "martin scorsese"}}, ["ml:2"]),
    ({"people": {"$in": ["Tom Hanks", "Jean-Pierre Jeunet"]}}, ["ml:1", "ml:3"]),
    ({"writers": {"$contains": "Joss Whedon"}}, ["ml:1"]),
    ({"cast": {"$contains": "Joss Whedon"}}, []),
    ({"languages": {"$in": ["italian"]}}, ["ml:2"]),
    ({"countries": {"$nin": ["United States"]}}, ["ml:3", "ml:4"]),
])
def test_list_fields_are_sets(where: dict, expected: list[str]) -> None:
    assert matching(where) == expected


@pytest.mark.parametrize(("where", "expected"), [
    ({"age_rating": {"$lte": "PG-13"}}, ["ml:1"]),  # unknown rating never passes an ordering test
    ({"age_rating": {"$gt": "PG"}}, ["ml:2", "ml:3"]),
    ({"age_rating": {"$in": ["g", "pg"]}}, ["ml:1"]),
    ({"age_rating": {"$ne": "R"}}, ["ml:1", "ml:4"]),
    ({"title": {"$contains": "story"}}, ["ml:1"]),
    ({"title": {"$word": "story"}}, ["ml:1"]),  # a whole word: "Toy Story"
    ({"title": {"$word": "stor"}}, []),
    ({"title": {"$noword": "story"}}, ["ml:2", "ml:3", "ml:4"]),
    ({"title": "goodfellas"}, ["ml:2"]),
    ({"id": {"$in": ["ml:1", "ml:4"]}}, ["ml:1", "ml:4"]),
    ({"id": "ML:1"}, []),  # ids are exact
])
def test_string_fields(where: dict, expected: list[str]) -> None:
    assert matching(where) == expected


def test_and_or_and_implicit_and() -> None:
    assert matching({"$or": [{"year": {"$lt": 1991}}, {"genres": {"$contains": "Romance"}}]}) == ["ml:2", "ml:3"]
    assert matching({"$and": [{"genres": {"$contains": "Comedy"}}, {"year": {"$gte": 2000}}]}) == ["ml:3"]
    assert matching({"genres": {"$contains": "Comedy"}, "age_rating": "G"}) == ["ml:1"]


def test_json_text_is_accepted_like_a_dict() -> None:
    text = '{"age_rating": {"$in": ["G", "PG"]}, "year": {"$gte": 1990}}'
    assert parse_where(text) == parse_where({"age_rating": {"$in": ["G", "PG"]}, "year": {"$gte": 1990}})
    assert matching(parse_where(text)) == ["ml:1"]


def test_unknown_field_lists_the_valid_ones() -> None:
    with pytest.raises(FilterError) as err:
        parse_where({"director": {"$eq": "x"}})
    msg = str(err.value)
    assert "'director'" in msg and "directors" in msg and "people" in msg and "year" in msg


@pytest.mark.parametrize(("where", "words"), [
    ({"year": {"$gte": "abc"}}, ["year", "number", '"abc"']),
    ({"year": {"$in": []}}, ["non-empty list"]),
    ({"genres": {"$in": "Comedy"}}, ["non-empty list"]),
    ({"genres": {"$gt": "Comedy"}}, ["list field", "genres"]),
    ({"title": {"$contains": 3}}, ["title", "text"]),
    ({"year": {"$contains": 3}}, ["$contains", "number"]),
    ({"age_rating": {"$lte": "TV-MA"}}, ["PG-13", "TV-MA"]),
    ({"year": {"$between": [1, 2]}}, ["unknown operator", "$between", "$gte"]),
    ({"$not": {"year": 1}}, ["unknown operator", "$not"]),
    ({"$or": []}, ["non-empty list"]),
    ({}, ["empty"]),
    ([1, 2], ["expected an object"]),
])
def test_bad_expressions_say_what_is_wrong(where: object, words: list[str]) -> None:
    with pytest.raises(FilterError) as err:
        parse_where(where)  # type: ignore[arg-type]
    for word in words:
        assert word in str(err.value)


def test_malformed_json_gives_line_and_column() -> None:
    with pytest.raises(FilterError) as err:
        parse_where('{"year":\n  {"$gte": 2000,}}')
    assert "not valid JSON" in str(err.value) and "line 2" in str(err.value) and "column" in str(err.value)


def test_filters_dataclass_fields() -> None:
    assert item_matches(TOY, Filters(genres_any=("comedy",), max_age_rating="PG"))
    assert not item_matches(GOODFELLAS, Filters(max_age_rating="PG-13"))
    assert not item_matches(UNKNOWN, Filters(max_age_rating="NC-17"))  # unknown rating does not pass
    assert not item_matches(TOY, Filters(genres_none=("Animation",)))
    assert item_matches(TOY, Filters(year_min=1995, year_max=1995, runtime_min=80, runtime_max=81))
    assert not item_matches(TOY, Filters(runtime_max=80))
    assert not item_matches(UNKNOWN, Filters(year_min=1900))  # missing year fails a year range
    assert item_matches(AMELIE, Filters(languages=("french",), countries=("France",)))
    assert item_matches(GOODFELLAS, Filters(people=("Robert De Niro",)))
    assert not item_matches(TOY, Filters(exclude_ids=frozenset({"ml:1"})))
    assert item_matches(TOY, Filters(where={"title": {"$contains": "toy"}}, genres_any=("Children",)))
    assert item_matches(UNKNOWN, Filters())


def test_people_none_rules_people_out_exactly() -> None:
    """`people_none`: no item involving any of these people (director, cast or writer) passes, case aside; the
    column mask (what search uses) and the Chroma pre-filter agree with the exact check."""
    from retrieval.filters import ColumnIndex, filters_to_where

    none_hanks = Filters(people_none=("tom hanks",))
    assert [i.id for i in ITEMS if item_matches(i, none_hanks)] == ["ml:2", "ml:3", "ml:4"]
    assert not item_matches(TOY, Filters(people_none=("Joss Whedon",)))  # a writer counts too
    assert not item_matches(GOODFELLAS, Filters(people=("Martin Scorsese",), people_none=("Ray Liotta",)))
    where = filters_to_where(Filters(people_none=("Tom Hanks", "Martin Scorsese")))
    assert where == {"people": {"$nin": ["tom hanks", "martin scorsese"]}}
    mask = ColumnIndex(list(ITEMS)).mask(where)
    assert [i.id for i, m in zip(ITEMS, mask) if m] == ["ml:3", "ml:4"]
    assert chroma_where(where) == {"$and": [{"people": {"$not_contains": "tom hanks"}},
                                            {"people": {"$not_contains": "martin scorsese"}}]}


def test_unknown_max_age_rating_is_an_error() -> None:
    with pytest.raises(FilterError, match="PG-13"):
        compile_filters(Filters(max_age_rating="TV-14"))


ALL_WHERES = [
    {"year": {"$ne": 1995}}, {"year": {"$nin": [1990]}}, {"year": {"$lt": 2000}}, {"genres": {"$nin": ["Comedy"]}},
    {"genres": {"$ne": "Comedy"}}, {"age_rating": {"$ne": "R"}}, {"age_rating": {"$lte": "PG-13"}},
    {"$or": [{"people": {"$contains": "Tom Hanks"}}, {"countries": {"$nin": ["France"]}}]},
    {"$and": [{"title": {"$contains": "a"}}, {"runtime_min": {"$gte": 100}}]},
    {"mean_rating": {"$eq": 4.2}}, {"year": {"$gt": 1990.5}},
]


@pytest.mark.parametrize("where", ALL_WHERES)
def test_chroma_prefilter_never_drops_a_matching_item(where: dict) -> None:
    """The Chroma translation, evaluated on the stored metadata, admits every item the exact check admits."""
    canonical = parse_where(where)
    chroma = chroma_where(canonical)
    for item in ITEMS:
        if item_matches_where(item, canonical):
            assert chroma is None or _chroma_eval(chroma, chroma_metadata(item)), (item.id, chroma)


def test_chroma_metadata_lowercases_and_fills_missing_values() -> None:
    meta = chroma_metadata(UNKNOWN)
    assert meta["genres"] == [""] and meta["year"] < 0 and meta["age_rating"] == ""
    assert chroma_metadata(TOY)["people"] == sorted(item_row(TOY)["people"])


def _chroma_eval(where: dict, meta: dict) -> bool:
    """A tiny evaluator of Chroma `where` semantics over one metadata record (for the superset check)."""
    (key, value), = where.items()
    if key == "$and":
        return all(_chroma_eval(w, meta) for w in value)
    if key == "$or":
        return any(_chroma_eval(w, meta) for w in value)
    (op, want), = value.items()
    have = meta[key]
    return {
        "$eq": lambda: have == want, "$ne": lambda: have != want, "$gt": lambda: have > want,
        "$gte": lambda: have >= want, "$lt": lambda: have < want, "$lte": lambda: have <= want,
        "$in": lambda: have in want, "$nin": lambda: have not in want,
        "$contains": lambda: want in have, "$not_contains": lambda: want not in have,
    }[op]()


MASK_WHERES = ALL_WHERES + [
    {"genres": {"$in": ["animation", "ROMANCE"]}}, {"people": {"$contains": "martin scorsese"}}, {"id": "ml:1"},
    {"id": {"$nin": ["ml:1"]}}, {"title": "goodfellas"}, {"age_rating": {"$gt": "PG"}}, {"year": {"$in": [1990]}},
    {"age_rating": {"$contains": "g"}}, {"mean_rating": {"$ne": 4.2}}, {"genres": {"$ne": "Comedy"}},
    {"$or": [{"year": {"$lt": 1991}}, {"genres": {"$contains": "Romance"}}]},
    {"genres": {"$exists": True}}, {"genres": {"$exists": False}}, {"year": {"$exists": False}},
    {"age_rating": {"$exists": True}}, {"title": {"$word": "story"}}, {"title": {"$noword": "story"}},
]


@pytest.mark.parametrize("where", MASK_WHERES)
def test_column_mask_equals_the_exact_predicate(where: dict) -> None:
    """The vectorised mask used by search gives exactly the per-item answer."""
    from retrieval.filters import ColumnIndex

    canonical = parse_where(where)
    mask = ColumnIndex(list(ITEMS)).mask(canonical)
    assert mask is not None
    assert [i.id for i, m in zip(ITEMS, mask) if m] == matching(canonical)
