"""Search and exact filters over a catalog described by a schema: the recipes demo, a book catalog, any field.

A person (or the operator with `tastebud search --where`) asks for "under 45 minutes, no nuts, nothing hard" on
recipes or "by this author, under 300 pages" on books; every such bound is exact, by code, on the catalog's own
fields, and a field the catalog lacks is a clear error that names the fields it has.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.catalog import load_catalog
from retrieval.errors import FilterError
from retrieval.fields import FILM_KINDS, field_kinds, item_row
from retrieval.filters import ColumnIndex, compile_filters, item_matches, item_matches_where, parse_where
from retrieval.recipes import build_recipes_catalog
from retrieval.schema import CatalogSchema, Facet, NumberField, PeopleField, TextField, Unit
from retrieval.schema_file import packaged_schema, schema_for
from retrieval.search import Searcher
from retrieval.types import Filters, Item

TASTEBUD = Path(sys.executable).with_name("tastebud")
_MEAT_FISH_NUTS = re.compile(r"\b(chicken|beef|pork|bacon|ham|lamb|sausages?|salmon|tuna|cod|shrimps?|prawns?|"
                             r"anchov(y|ies)|turkey|almonds?|walnuts?|peanuts?|pecans?|cashews?|hazelnuts?|"
                             r"pistachios?)\b", re.IGNORECASE)


def _books() -> tuple[CatalogSchema, list[Item]]:
    """A small book catalog: author (people), pages (a number), shelf (a facet), blurb (text)."""
    films = packaged_schema("films")
    pages = NumberField("pages", Unit("pages", "pages", integer=True))
    schema = CatalogSchema(name="books", texts=(TextField("blurb"),), facets=(Facet("shelf", multi=True),),
                           numbers=(films.number("year"), pages), people=(PeopleField("author", "author"),))
    rows = [("b1", "Pride and Prejudice", 1813, 432, "Jane Austen", ["classics", "romance"], "Two proud people."),
            ("b2", "Persuasion", 1817, 249, "Jane Austen", ["classics"], "A second chance at love."),
            ("b3", "The Road", 2006, 287, "Cormac McCarthy", ["fiction"], "A father and son walk south."),
            ("b4", "Blood Meridian", 1985, 351, "Cormac McCarthy", ["western"], "Violence in the borderlands."),
            ("b5", "Untitled Draft", None, None, None, [], None)]
    items = [Item(id=i, title=t, year=y, attributes=tuple(sorted(
        (k, v) for k, v in {"pages": p, "author": [a] if a else None, "shelf": s, "blurb": b}.items()
        if v not in (None, [])))) for i, t, y, p, a, s, b in rows]
    return schema, items


def test_a_book_catalogs_own_fields_filter_exactly() -> None:
    schema, items = _books()
    kinds = field_kinds(schema)
    assert {"pages", "author", "shelf", "blurb"} <= kinds.attributes and "author" in kinds.people

    def ids(where: dict) -> list[str]:
        return [it.id for it in items if item_matches_where(it, where, kinds)]

    assert ids({"pages": {"$lt": 300}}) == ["b2", "b3"]  # the draft has no page count: it never passes a bound
    assert ids({"year": {"$lt": 1900}}) == ["b1", "b2"]  # a book from 1813 is fine
    assert ids({"author": "jane austen"}) == ["b1", "b2"]
    assert ids({"people": {"$in": ["Cormac McCarthy"]}}) == ["b3", "b4"]  # the author is one of the people
    assert ids({"shelf": {"$nin": ["classics"]}}) == ["b3", "b4", "b5"]
    assert ids({"blurb": "love"}) == ["b2"]  # a text field's value is a substring
    by_filters = Filters(ranges=(("pages", None, 300),), any_of=(("author", ("Cormac McCarthy",)),))
    assert [it.id for it in items if item_matches(it, by_filters, kinds)] == ["b3"]
    # the column index gives the same answer as the row predicate, for every expression
    index = ColumnIndex(items, kinds)
    for where in ({"pages": {"$gte": 287}}, {"author": {"$ne": "Jane Austen"}}, {"blurb": {"$contains": "a"}},
                  {"$or": [{"shelf": "western"}, {"year": {"$lt": 1815}}]}):
        canonical = parse_where(where, kinds)
        assert list(index.mask(canonical)) == [item_matches_where(it, canonical, kinds) for it in items]


@pytest.mark.parametrize(("where", "says"), [
    ({"page": {"$lt": 300}}, "unknown field 'page'; valid fields are: id, title, author, blurb, pages, shelf, year"),
    ({"blurb": {"$gt": "a"}}, "free text: only $contains"),
    ({"shelf": {"$lte": "classics"}}, "does not apply to the list field 'shelf'"),
    ({"pages": {"$lt": "three hundred"}}, "'pages' is a number"),
    ({"pages": {"$eq": 300.5}}, "'pages' is a whole number"),
])
def test_a_field_the_catalog_lacks_or_a_wrong_operand_is_a_clear_error(where: dict, says: str) -> None:
    schema, _ = _books()
    with pytest.raises(FilterError, match=re.escape(says)):
        parse_where(where, field_kinds(schema))


def test_films_keep_their_fields_and_rows() -> None:
    films = packaged_schema("films")
    assert field_kinds(films) == FILM_KINDS  # every film field is Item's own: nothing read from attributes
    item = Item(id="ml:1", title="Toy Story", year=1995, genres=("Animation",), directors=("John Lasseter",))
    assert item_row(item, field_kinds(films)) == item_row(item)
    with pytest.raises(FilterError, match="valid fields are: id, title, year, runtime_min"):
        parse_where({"pages": {"$lt": 3}})


@pytest.fixture(scope="module")
def recipes(tmp_path_factory: pytest.TempPathFactory, embedder) -> tuple[Path, Searcher]:
    """The real Cookbook catalog (built from its package), searched over its soups, stews and desserts."""
    data_dir = tmp_path_factory.mktemp("recipes")
    build_recipes_catalog(data_dir)
    schema = schema_for(data_dir)
    items = [it for it in load_catalog(data_dir)
             if dict(it.attributes).get("course") in ("soup", "dessert") or dict(it.attributes).get("category") == "Stew"]
    return data_dir, Searcher.in_memory(items, embedder, schema)


def test_warm_quick_meatless_nut_free_recipes_are_exact_on_the_real_cookbook(recipes: tuple[Path, Searcher]) -> None:
    _, searcher = recipes
    wish = Filters(ranges=(("time_min", None, 45), ("difficulty", None, 3)),
                   any_of=(("temperature", ("warm",)),), none_of=(("contains", ("meat", "fish", "seafood", "nuts")),))
    hits = searcher.search("a warming soup for a cold rainy evening", wish, k=8)
    assert len(hits) >= 3
    for hit in hits:
        facts = dict(hit.item.attributes)
        assert facts["time_min"] <= 45 and facts.get("difficulty", 0) <= 3 and facts["temperature"] == "warm"
        assert not [ln for ln in facts.get("ingredients", []) if _MEAT_FISH_NUTS.search(ln)
                    and not re.search(r"vegetarian|vegan|substitute|nutmeg|coconut|chestnut", ln, re.I)], facts
    assert sum("soup" in h.item.title.lower() or dict(h.item.attributes).get("course") == "soup" for h in hits) >= 3
    # the exact mask agrees with the row-by-row check over every recipe searched
    cf = compile_filters(wish, searcher.kinds)
    mask = searcher.columns.mask(cf.where)
    rows = [cf.matches(item_row(searcher.items[i], searcher.kinds)) for i in searcher.ids]
    assert np.array_equal(mask, np.array(rows)) and 3 <= int(mask.sum()) < len(rows)


def test_the_recipe_text_that_is_searched_holds_its_facts(recipes: tuple[Path, Searcher]) -> None:
    from retrieval.embeddings import item_text

    data_dir, searcher = recipes
    soup = next(it for it in searcher.items.values() if dict(it.attributes).get("time_min")
                and dict(it.attributes).get("ingredients"))
    text = item_text(soup, schema_for(data_dir))
    facts = dict(soup.attributes)
    assert text.startswith(soup.title) and f"time: {facts['time_min']} minutes" in text
    assert facts["ingredients"][0][:20] in text
    hit = searcher.search(soup.title, k=3)[0]
    assert hit.item.id == soup.id


@pytest.mark.slow
def test_the_recipes_catalog_from_the_command_line(tmp_path: Path, recipes_root: Path) -> None:
    """`tastebud data build --catalog recipes`, `index` and `search --where` as an operator runs them. The index
    starts from the vectors the session already has, as a rebuild on the operator's machine would (embedding the
    3,000 recipes again took 6 min of a CI run)."""
    import shutil

    from tests.conftest import embed_cache

    env = {**os.environ, "TASTEBUD_DATA_DIR": str(tmp_path), "TASTEBUD_CATALOG": "recipes"}
    env.pop("TASTEBUD_CHROMA_URL", None)
    for argv in (["data", "build", "--catalog", "recipes"], ["index"]):
        if argv == ["index"]:
            (tmp_path / "recipes" / "index").mkdir(parents=True, exist_ok=True)
            for cached in embed_cache("recipes").glob("embcache-*.npz"):
                shutil.copy(cached, tmp_path / "recipes" / "index" / cached.name)
        done = subprocess.run([str(TASTEBUD), *argv], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "recipes" / "catalog.jsonl").is_file() and not (tmp_path / "catalog.jsonl").exists()
    where = '{"time_min": {"$lte": 30}, "diet": "vegetarian", "course": {"$in": ["dessert"]}}'
    done = subprocess.run([str(TASTEBUD), "search", "chocolate", "--where", where, "-k", "5", "--json"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) == 5 and all(r["time_min"] <= 30 and "vegetarian" in r["diet"] and r["course"] == "dessert"
                                  for r in rows)
    assert any("chocolate" in r["title"].lower() for r in rows)
    done = subprocess.run([str(TASTEBUD), "search", "soup", "--where", '{"runtime": {"$lt": 9}}'], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "time_min" in done.stderr and "genres" not in done.stderr
