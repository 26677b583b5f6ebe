"""The catalog schema: the shipped film and recipe schemas, reading and writing schema files, values read in a
schema's units, and a schema inferred from real-looking CSV files (books, a shop, a library) with no schema given."""

from __future__ import annotations

import csv
import io
from dataclasses import fields, replace
from pathlib import Path

import pandas as pd
import pytest

from retrieval.errors import CatalogError
from retrieval.schema import SCHEMA_FILE, NumberField
from retrieval.schema_file import (
    describe_schema,
    load_schema,
    packaged_schema,
    schema_for,
    schema_yaml,
    units,
    write_schema,
)
from retrieval.schema_infer import infer_schema
from retrieval.types import AGE_RATINGS, GENRES, Item
from retrieval.word_rules import WordSet

BOOKS_CSV = """\
id,title,year,genres,author,pages,description
b1,Pride and Prejudice,1813,Romance|Classic,Jane Austen,432,"Elizabeth Bennet spars with the proud Mr Darcy in a witty novel of manners, money and marriage."
b2,Little Women,1868,Classic|Family,Louisa May Alcott,449,"Four sisters grow up in Civil War Massachusetts, sharing plays, quarrels, poverty and first loves."
b3,The Hound of the Baskervilles,1902,Mystery|Classic,Arthur Conan Doyle,256,"Sherlock Holmes and Dr Watson investigate a legendary spectral hound on the fog-bound moors."
b4,The Murder at the Vicarage,1930,Mystery|Cozy,Agatha Christie,288,"Miss Marple unravels the shooting of a disliked colonel in the sleepy village of St Mary Mead."
b5,Gone Girl,2012,Thriller|Mystery,Gillian Flynn,432,"On their fifth anniversary Nick Dunne's wife vanishes, and the story of their marriage turns dark."
b6,The Thursday Murder Club,2020,Mystery|Cozy,Richard Osman,382,"Four friends in a retirement village meet weekly to investigate cold cases until a real murder."
b7,Frankenstein,1818,Horror|Classic,Mary Shelley,280,"A young scientist builds a living creature and is haunted by what his ambition has made."
b8,The Hobbit,1937,Fantasy|Adventure,J. R. R. Tolkien,310,"Bilbo Baggins leaves his comfortable hole to help a band of dwarves reclaim their mountain."
b9,Anne of Green Gables,1908,Family|Classic,L. M. Montgomery,320,"An imaginative orphan girl is sent by mistake to an elderly brother and sister on a farm."
b10,The No. 1 Ladies' Detective Agency,1998,Mystery|Cozy,Alexander McCall Smith,235,"Precious Ramotswe opens Botswana's first detective agency and solves small mysteries kindly."
b11,Dune,1965,Science Fiction|Adventure,Frank Herbert,412,"On the desert planet Arrakis a noble family is betrayed and its heir rises among the desert people."
b12,Emma,1815,Romance|Classic,Jane Austen,474,"A rich young woman meddles in the love lives of her neighbours with comic and painful results."
"""

SHOP_CSV = """\
sku,name,brand,price_eur,category,description
SKU-001,Trail Runner 2,Salomon,129.90,Shoes,Light trail running shoe with a grippy sole for wet rocks and muddy paths.
SKU-002,City Backpack 20L,Fjällräven,€89,Bags,A twenty litre backpack with a padded laptop sleeve and a waterproof base.
SKU-003,Down Jacket,Patagonia,"249,00",Jackets,"Warm, packable down jacket for cold winter walks and mountain huts."
SKU-004,Rain Shell,Arc'teryx,299,Jackets,"A waterproof, breathable shell for rain and wind on long hikes."
SKU-005,Wool Socks,Darn Tough,24,Socks,Merino wool hiking socks with a lifetime guarantee against holes.
SKU-006,Hiking Boot,Salomon,179,Shoes,Waterproof leather hiking boot with ankle support for rocky paths.
SKU-007,Fleece,Patagonia,119,Jackets,A soft recycled fleece layer for chilly mornings and evenings by the fire.
SKU-008,Daypack 30L,Osprey,139,Bags,A ventilated daypack with hip belt pockets and a rain cover for wet days.
SKU-009,Beanie,Fjällräven,35,Hats,A ribbed wool beanie that keeps your ears warm on windy days in the hills.
SKU-010,Sun Hat,Patagonia,45,Hats,A wide-brimmed hat with UPF 50 protection for long summer hikes in the sun.
SKU-011,Liner Gloves,Black Diamond,ask in store,Gloves,Thin touch-screen gloves to wear alone or under mittens.
SKU-012,Trail Runner 3,Salomon,149,Shoes,The newer trail runner with more cushioning for long distances.
"""

LIBRARY_CSV = """\
isbn,book_title,book_author,year_of_publication
0195153448,Classical Mythology,Mark P. O. Morford,2002
0002005018,Clara Callan,Richard Bruce Wright,2001
0060973129,Decision in Normandy,Carlo D'Este,1991
0374157065,Flu: The Story of the Great Influenza Pandemic of 1918,Gina Bari Kolata,1999
0393045218,The Mummies of Urumchi,E. J. W. Barber,1999
0399135782,The Kitchen God's Wife,Amy Tan,1991
"""


def _rows(text: str) -> list[dict[str, str]]:
    """A CSV's rows as a reader gives them: every cell text."""
    return list(csv.DictReader(io.StringIO(text)))


# ---------------------------------------------------------------- the shipped schemas
def test_film_schema_describes_every_item_field() -> None:
    """films.yaml names exactly Item's fields, MovieLens's genres and the MPAA scale; 1813 is no film year."""
    films = packaged_schema("films")
    item_fields = {f.name for f in fields(Item)} - {"attributes"}
    assert set(films.columns()) == item_fields
    assert films.facet("genres").vocabulary == GENRES
    assert films.suitability.scale == AGE_RATINGS
    assert (films.noun.en, films.noun.zh, films.noun.verb_en, films.noun.verb_zh) == ("film", "电影", "watch", "看")
    assert films.role("director").name == "directors" and films.popularity == "n_ratings"
    with pytest.raises(ValueError, match="1813 is not a plausible year"):
        films.number("year").parse(1813)
    assert films.number("runtime_min").parse("1 h 30 min") == 90
    assert films.facet("genres").split("science fiction|科幻|comedies") == ("Sci-Fi", "Comedy")


def test_suitability_never_admits_an_unknown_level() -> None:
    """An item with no known rating never passes, whatever the ceiling; spellings are read as levels."""
    scale = packaged_schema("films").suitability
    assert scale.level("pg13") == "PG-13" and scale.level("Not Rated") is None
    assert not scale.admits(None, "NC-17")
    assert scale.admits("PG", "PG-13") and not scale.admits("R", "PG-13")
    with pytest.raises(ValueError, match="'M' is not an age rating"):
        scale.level("M")


def test_recipe_schema_speaks_of_dishes() -> None:
    """recipes.yaml: a dish is cooked; time in minutes with 'quick'; difficulty with 'easy' and 'hard'."""
    recipes = packaged_schema("recipes")
    assert (recipes.noun.en, recipes.noun.zh, recipes.noun.measure_zh, recipes.noun.verb_en) == ("dish", "菜", "道",
                                                                                                "cook")
    quick = {lv.name: lv for lv in recipes.number("time_min").levels}["quick"]
    assert quick.max == 30 and "快手" in quick.words.zh
    assert recipes.number("time_min").parse("½ hour") == 30
    assert recipes.facet("diet").canonical("素食") == "vegetarian"
    assert recipes.suitability is None and recipes.embedded_texts() == ("ingredients",)


def test_a_schema_reads_back_what_it_writes(data_dir: Path) -> None:
    """write_schema puts the YAML beside the catalog; schema_for reads it; no file means the film schema."""
    assert schema_for(data_dir).name == "films"
    recipes = packaged_schema("recipes")
    path = write_schema(recipes, data_dir)
    assert path == data_dir / SCHEMA_FILE and path.read_text(encoding="utf-8").startswith("# The catalog schema")
    assert schema_for(data_dir) == recipes
    assert load_schema(write_schema(packaged_schema("films"), data_dir / "f.yaml")) == packaged_schema("films")


# ---------------------------------------------------------------- bad schema files
@pytest.mark.parametrize("edit, field, reason", [
    ("numbers:\n  pages: {unit: leagues}\n", "numbers.pages.unit", "'leagues' is not a known unit"),
    ("numbers:\n  pages: {unit: pages, range: [900, 10]}\n", "numbers.pages.range", "is not a range"),
    ("facets:\n  genres: {multi: true}\n", "facets.genres.separator", "needs a separator"),
    ("facets:\n  genres: {vocabulary: [A], synonyms: {B: {en: [b]}}}\n", "facets.genres.synonyms",
     "not in the vocabulary"),
    ("facets:\n  course: {vocabulary: [main], asked_only: [sauce]}\n", "facets.course.asked_only",
     "not in the vocabulary"),
    ("facets:\n  genres: {colour: red}\n", "facets.genres.colour", "Extra inputs are not permitted"),
    ("facets:\n  kind: {also_in: [blurb]}\n", "facets.kind.also_in", "not the title or one of the texts"),
    ("texts:\n  title: {}\n", "texts.title", "already the title"),
    ("suitability: {field: age, scale: [G, PG], words: {X: {en: [x]}}}\n", "suitability", "not levels of the scale"),
    ("interactions: {file: i.csv}\n", "interactions", "name a `rating` or an `event` column"),
])
def test_a_bad_schema_file_names_its_field(tmp_path: Path, edit: str, field: str, reason: str) -> None:
    """Each mistake in a schema file is a CatalogError naming the file, the field and why."""
    path = tmp_path / "books.schema.yaml"
    path.write_text("name: books\nnoun: {en: book, zh: 书}\n" + edit, encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_schema(path)
    assert f"books.schema.yaml, field {field}" in str(err.value) and reason in str(err.value)


def test_broken_yaml_and_missing_columns_are_clear(tmp_path: Path) -> None:
    """Unparsable YAML names the file; a schema naming a column the catalog lacks names that column."""
    path = tmp_path / "s.yaml"
    path.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="s.yaml.*not valid YAML"):
        load_schema(path)
    books = infer_schema(_rows(BOOKS_CSV), "books.csv")
    with pytest.raises(CatalogError) as err:
        books.check_columns(["id", "title", "year", "genres", "author", "description"], "books-v2.csv")
    assert "field 'pages' (number)" in str(err.value) and "books-v2.csv" in str(err.value)


# ---------------------------------------------------------------- values in units
@pytest.mark.parametrize("unit, raw, value", [
    ("eur", "€12,50", 12.5), ("eur", "1,299.00 EUR", 1299.0), ("usd", "$40", 40.0), ("minutes", "2 hours", 120),
    ("minutes", "1½ hours", 90), ("minutes", "45 min", 45), ("minutes", "90分钟", 90), ("pages", "320 pp", 320),
    ("year", "1813", 1813), ("year", -750, -750), ("servings", "4 people", 4), ("grams", "1.5 kg", 1500.0),
])
def test_numbers_are_read_in_their_unit(unit: str, raw: object, value: float) -> None:
    """Numbers written with unit words, symbols, decimal commas and fractions are read in the field's unit."""
    u = units()[unit]
    assert NumberField("x", u, range=u.range).parse(raw) == value


def test_words_in_a_number_field_say_what_was_expected() -> None:
    """Words, year 0 and values past the range are ValueErrors saying what the field holds."""
    pages = NumberField("pages", units()["pages"], "pages", range=units()["pages"].range)
    with pytest.raises(ValueError, match="'three hundred' is not a number of pages"):
        pages.parse("three hundred")
    year = NumberField("year", units()["year"], range=units()["year"].range)
    with pytest.raises(ValueError, match="0 is not a year"):
        year.parse("0")
    assert year.parse("") is None and pages.parse(None) is None


# ---------------------------------------------------------------- inference
def test_a_book_csv_gets_a_book_schema_and_every_year_is_fine() -> None:
    """id,title,year,genres,author,pages,description: facets, numbers with units, the author as people."""
    schema = infer_schema(_rows(BOOKS_CSV), "books.csv")
    assert (schema.id, schema.title, schema.noun.en, schema.noun.zh, schema.noun.verb_en) == ("id", "title", "book",
                                                                                            "书", "read")
    genres = schema.facet("genres")
    assert genres.multi and genres.separator == "|" and genres.vocabulary[0] == "Classic"
    assert "Science Fiction" in genres.vocabulary
    assert schema.number("pages").unit.name == "pages" and schema.number("year").unit.name == "year"
    assert schema.role("author").name == "author" and schema.people[0].role_zh == "作者"
    assert [t.name for t in schema.texts] == ["description"] and schema.texts[0].embed
    years = [schema.number("year").parse(r["year"]) for r in _rows(BOOKS_CSV)]
    assert 1813 in years and 1868 in years
    assert schema.notes == ()


def test_a_shop_csv_names_sku_name_brand_and_a_price_in_euros() -> None:
    """sku and name are the id and title; price_eur is euros; a price in words is reported by row."""
    schema = infer_schema(pd.read_csv(io.StringIO(SHOP_CSV), dtype=str), "shop.csv")
    assert (schema.id, schema.title, schema.noun.en, schema.noun.verb_zh) == ("sku", "name", "product", "买")
    price = schema.number("price_eur")
    assert price.unit.name == "eur" and price.parse("€89") == 89.0 and price.parse("249,00") == 249.0
    assert schema.role("brand").name == "brand"
    assert schema.facet("category").vocabulary[:2] == ("Shoes", "Jackets") and not schema.facet("category").multi
    assert any("price_eur" in n and "row 11 holds words" in n for n in schema.notes)


def test_a_library_csv_without_text_is_told_so() -> None:
    """isbn, book_title, book_author, year_of_publication: the title is what search reads, and a note says so."""
    schema = infer_schema(_rows(LIBRARY_CSV), "library.csv")
    assert (schema.id, schema.title, schema.noun.en) == ("isbn", "book_title", "book")
    assert schema.role("author").name == "book_author" and schema.number("year_of_publication").unit.name == "year"
    assert schema.texts == () and any("no long text column" in n for n in schema.notes)
    text = describe_schema(schema)
    assert "book_author: author / 作者" in text and "search reads the title alone" in text


def test_a_facet_with_tens_of_thousands_of_values_is_kept_as_text() -> None:
    """A 'tags' column with 30,000 distinct values is text, and the note says how many and why."""
    frame = pd.DataFrame({"id": [f"p{i}" for i in range(30_000)], "title": [f"Thing {i}" for i in range(30_000)],
                          "tags": [f"tag{i}" for i in range(30_000)], "colour": ["red", "blue", "green"] * 10_000})
    schema = infer_schema(frame, "things.parquet")
    assert schema.facet("tags") is None and "tags" in [t.name for t in schema.texts]
    assert any("30,000 distinct values" in n and "kept as text" in n for n in schema.notes)
    assert schema.facet("colour").vocabulary == ("red", "blue", "green")


def test_a_column_of_known_levels_becomes_the_suitability_scale() -> None:
    """Cells that are nearly all levels of one scale ('Not Rated' counts as unknown) make the suitability."""
    rows = [{"id": str(i), "title": f"T{i}", "age_rating": ["PG", "R", "Not Rated", "pg-13"][i % 4],
             "ages": ["8+", "all ages", "12+"][i % 3]} for i in range(12)]
    schema = infer_schema(rows, "shows.csv")
    assert schema.suitability.field == "age_rating" and schema.suitability.label_zh == "分级"
    assert schema.suitability.level("pg-13") == "PG-13" and schema.facet("ages") is not None


def test_no_id_column_is_a_clear_error() -> None:
    """No id-like column at all is refused with what was looked for; a column named id that repeats a value is
    still the id (the import reports the repeated rows, and keeps the others)."""
    with pytest.raises(CatalogError, match="no id column \\(code has empty or repeated values\\): looked for"):
        infer_schema([{"code": "1", "title": "A"}, {"code": "1", "title": "B"}], "dupes.csv")
    with pytest.raises(CatalogError, match="no id column: looked for a column with unique, non-empty values"):
        infer_schema([{"name": "x", "title": "A"}], "no_id.csv")
    schema = infer_schema([{"id": "1", "title": "A"}, {"id": "1", "title": "B"}], "dupes.csv")
    assert schema.id == "id" and any("repeated" in note for note in schema.notes)
    with pytest.raises(CatalogError, match="no title column"):
        infer_schema([{"id": "1", "body": "x"}], "untitled.csv")


def test_an_inferred_schema_is_written_read_and_described(data_dir: Path) -> None:
    """The operator's loop: infer, write beside the catalog, read back equal, and a readable description."""
    schema = infer_schema(_rows(BOOKS_CSV), "books.csv")
    path = write_schema(schema, data_dir)
    again = load_schema(path)
    assert again == schema and again.notes == schema.notes
    assert "vocabulary: [Classic, Mystery" in schema_yaml(schema)
    text = describe_schema(schema, path)
    assert "each item is a book / 书 (本); people read it / 读" in text
    assert "genres: several per book, split at '|'" in text and f"edit {path}" in text


def test_a_schema_edited_by_the_operator_takes_effect(data_dir: Path) -> None:
    """Changing a unit in the written file is what the next load sees (here: pages read as a plain count)."""
    path = write_schema(infer_schema(_rows(BOOKS_CSV), "books.csv"), data_dir)
    path.write_text(path.read_text(encoding="utf-8").replace("unit: pages", "unit: count"), encoding="utf-8")
    assert load_schema(path).number("pages").unit.name == "count"
    assert replace(load_schema(path), notes=("x",)) == load_schema(path)  # notes never make two schemas differ


# ---------------------------------------------------------------- word rules
@pytest.mark.parametrize("text, found", [
    ("2 tbsp nutmeg", False), ("1 cup mixed nuts, chopped", True), ("nut-free granola", False),
    ("butternut squash", False), ("½ cup pine nuts", True), ("1 can water chestnuts", False),
    ("vegan nut cheese", False), ("peanut butter", True),
])
def test_word_rules_match_whole_words_after_unless(text: str, found: bool) -> None:
    """Whole words with plurals; unless phrases (with `*` for one word) are blanked out first."""
    nuts = WordSet.of(["nut", "peanut", "pine nut", "chestnut"], ["nut-free", "water chestnut", "vegan *"])
    assert nuts.found(text) is found


def test_a_bound_most_items_do_not_speak_to_and_a_value_a_title_names() -> None:
    """recipes.yaml: "at least 6 servings" keeps the recipes that do not say how many they serve (three in four) and
    drops those that say fewer; category Chicken is met by a chicken title too (a third have a category)."""
    from retrieval.fields import field_kinds
    from retrieval.filters import item_matches
    from retrieval.types import Filters

    kinds = field_kinds(packaged_schema("recipes"))

    def dish(title: str, **attrs: object) -> Item:
        return Item(id=title, title=title, attributes=tuple(attrs.items()))

    six = Filters(ranges=(("servings", 6, None),))
    assert [item_matches(dish("A", servings=s), six, kinds) for s in (None, 4, 6, 10)] == [True, False, True, True]
    assert not item_matches(dish("A", servings=None), Filters(ranges=(("time_min", None, 30),)), kinds)
    chicken = Filters(any_of=(("category", ("Chicken",)),))
    assert item_matches(dish("Chicken Soup with Dumplings"), chicken, kinds)
    assert item_matches(dish("Coq au Vin", category="Chicken"), chicken, kinds)
    assert not item_matches(dish("Beef Stew", category="Beef"), chicken, kinds)
    cake = Filters(any_of=(("category", ("Cake",)),))  # a whole word of the title, where no category is given
    assert [item_matches(dish(t), cake, kinds) for t in ("Carrot Cake", "Rock Cakes", "Pancakes")] == [True, True,
                                                                                                      False]
    assert not item_matches(dish("Cake Frosting", category="Frosting and icing"), cake, kinds)
    no_chicken = Filters(none_of=(("category", ("Chicken",)),))  # ruled out: by its category or by its title
    assert [item_matches(dish(t, category=c), no_chicken, kinds)
            for t, c in (("Chicken Soup I", "Soup"), ("Leek Soup", "Soup"), ("Coq au Vin", "Chicken"))] == [
        False, True, False]
