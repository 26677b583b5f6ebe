"""Constraints on a catalog that is not films, read from the words people use, in English and Chinese.

The recipes demo's schema (built from the real Cookbook package) and a book catalog's inferred schema: numbers in
their own units ("under 45 minutes", "less than 300 pages", 半小时以内), facet values and their synonyms wanted or
ruled out ("vegetarian", "no nuts", "nut-free", 不要辣), level words ("quick", "nothing hard"), and the person's
situation kept apart from what they want ("it's cold out" is the weather, "something cold" a dish).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from chatbot.turn.understand.catalog_reading import CatalogReader, catalog_reader
from retrieval.recipes import build_recipes_catalog
from retrieval.schema_infer import infer_schema
from tests.chatbot.test_understand import gazetteer  # noqa: F401  (the real offline gazetteer, a fixture)
from tests.retrieval.test_schema_import import BOOKS


@pytest.fixture(scope="module")
def recipes(tmp_path_factory: pytest.TempPathFactory) -> CatalogReader:
    """The reader of the real recipes catalog (its schema and the coverage of its facets)."""
    from retrieval.catalog import load_catalog

    data_dir = tmp_path_factory.mktemp("recipes")
    build_recipes_catalog(data_dir)
    reader = catalog_reader(data_dir, load_catalog(data_dir))
    assert reader is not None
    return reader


@pytest.fixture(scope="module")
def books() -> CatalogReader:
    """The reader of the 12-book catalog with its schema guessed from the columns."""
    return CatalogReader(infer_schema(list(csv.DictReader(io.StringIO(BOOKS))), "books.csv"))


def _read(reader: CatalogReader, message: str) -> tuple[set, set, dict]:
    """(wanted, ruled out, bounds as {(field, side): value}) of a message."""
    r = reader.read(message)
    return set(r.any_of), set(r.none_of), {(f, s): v for f, s, v in r.bounds}


@pytest.mark.parametrize(("message", "wanted", "ruled_out", "bounds"), [
    ("It's cold and raining, I'm cooking for my two kids tonight, something warm and quick",
     {("temperature", "warm")}, set(), {("time_min", "max"): 30, ("servings", "min"): 2}),
    ("vegetarian please, and no nuts", {("diet", "vegetarian")}, {("contains", "nuts")}, {}),
    ("my son is allergic to peanuts, so nothing with them. A dessert that doesn't take more than 45 minutes",
     {("course", "dessert")}, {("contains", "nuts")}, {("time_min", "max"): 45}),
    ("no dairy, eggs or gluten, something warm for dinner", {("temperature", "warm"), ("course", "main")},
     {("contains", "dairy"), ("contains", "egg"), ("contains", "gluten")}, {}),
    ("a meat-free soup, ready in under an hour", {("diet", "vegetarian"), ("course", "soup")}, set(),
     {("time_min", "max"): 60}),
    ("we're beginners so not too hard, and somewhere between half an hour and an hour", set(), set(),
     {("difficulty", "max"): 3, ("time_min", "min"): 30, ("time_min", "max"): 60}),
    ("nut-free cookies", {("category", "Cookie")}, {("contains", "nuts")}, {}),
    ("anything but soup tonight, please", set(), {("course", "soup")}, {}),
    ("I don't want anything spicy or with pork", set(), {("contains", "spicy"), ("contains", "pork")}, {}),
    ("it's freezing outside, make it something hot", {("temperature", "warm")}, set(), {}),
    ("it's so hot today, something cold and refreshing", {("temperature", "cold")}, set(), {}),
    ("素食，不要坚果", {("diet", "vegetarian")}, {("contains", "nuts")}, {}),
    ("半小时以内的汤，不要辣的", {("course", "soup")}, {("contains", "spicy")}, {("time_min", "max"): 30}),
    ("下雨天很冷，给两个孩子做饭，想要热乎的快手菜", {("temperature", "warm")}, set(),
     {("time_min", "max"): 30, ("servings", "min"): 2}),
    ("不含鸡蛋和奶，一个小时以内，简单一点", set(), {("contains", "egg"), ("contains", "dairy")},
     {("time_min", "max"): 60, ("difficulty", "max"): 2}),
    # a ruled-out value next to a wanted one of another field: "不辣的汤" is a soup that is not spicy
    ("我想做一道不辣的汤，给老人吃", {("course", "soup")}, {("contains", "spicy")}, {}),
    ("a not too spicy soup, no dairy", {("course", "soup")}, {("contains", "spicy"), ("contains", "dairy")}, {}),
    ("不放坚果的蛋糕", {("category", "Cake")}, {("contains", "nuts")}, {}),
    # an allergy rules out what it names, and a "no" reaches past other things listed before a value
    ("我老公对海鲜过敏，想做个不辣的主菜", {("course", "main")}, {("contains", "seafood"), ("contains", "spicy")}, {}),
    ("my daughter has a nut allergy, any dessert", {("course", "dessert")}, {("contains", "nuts")}, {}),
    ("a veggie stew please, no mushrooms or nuts", {("diet", "vegetarian"), ("category", "Stew")},
     {("contains", "nuts")}, {}),
    ("不要蘑菇和坚果", set(), {("contains", "nuts")}, {}),
    # "no meat" in any words is a vegetarian dish: no fish or seafood either, as "meat-free" and "吃素" say
    ("不要肉，给全家做一道主菜", {("diet", "vegetarian"), ("course", "main")}, set(), {}),
    ("我们家不吃肉，晚饭做什么好", {("diet", "vegetarian"), ("course", "main")}, set(), {}),
    ("a main course without meat for six", {("diet", "vegetarian"), ("course", "main")}, set(),
     {("servings", "min"): 6}),
    ("no meat tonight, something warm", {("diet", "vegetarian"), ("temperature", "warm")}, set(), {}),
    # a time said as how long it takes is that long at most
    ("it's late and I'm starving, something I can make in ten minutes", set(), set(), {("time_min", "max"): 10}),
    ("a soup that's ready in 20 minutes", {("course", "soup")}, set(), {("time_min", "max"): 20}),
    ("十分钟就能搞定的汤", {("course", "soup")}, set(), {("time_min", "max"): 10}),
    ("中午时间不多，来一道快手菜", set(), set(), {("time_min", "max"): 30}),
    # 好 of 做好 is no "so" of the weather (好冷): the main course was dropped and desserts came
    ("我吃素，想要一道二十分钟内能做好的主菜", {("diet", "vegetarian"), ("course", "main")}, set(),
     {("time_min", "max"): 20}),
])
def test_recipe_wishes_as_people_say_them(recipes: CatalogReader, message: str, wanted: set, ruled_out: set,
                                          bounds: dict) -> None:
    got_wanted, got_ruled_out, got_bounds = _read(recipes, message)
    assert (got_wanted, got_ruled_out, got_bounds) == (wanted, ruled_out, bounds)


@pytest.mark.parametrize(("message", "at_least"), [
    ("what can I make for dinner for six people?", 6),
    ("I need something that serves 8", 8),
    ("having friends over, cooking for 10 tonight", 10),
    ("a dessert for a party of twelve", 12),
    ("an easy main that feeds a family of five", 5),
    ("dinner for the four of us, nothing spicy", 4),
    ("we'll be 6 adults, no pork", 6),
    ("quick lunch for 3 hungry people", 3),
    ("table for 4 please, something warm", 4),
    ("something I can make for 20 guests", 20),
    ("我们六个人吃饭，做什么好", 6),
    ("一家五口的晚饭", 5),
    ("4人份的汤", 4),
    ("想请八位客人吃饭", 8),
    # people counted in parts are fed together
    ("we're 2 adults and 3 kids, something everyone eats", 5),
    ("dinner for 4 adults plus 2 children", 6),
    ("两个大人和三个孩子，晚饭吃什么", 5),
    ("two adults, two teens and a toddler", 5),
    ("两个大人三个孩子", 5),
    ("1 adult and 2 kids", 3),
    # a count of the whole is not added to a part of it
    ("we're 5 people and 2 of us are vegan", 5),
    ("一家三口，两个大人一个孩子", 3),
    # numbers of two digits, ranges
    ("something that serves 10 people", 10),
    ("a party of 12 guests", 12),
    ("dinner for 4 to 6 people", 4),
    ("dinner for 4 in 30 minutes", 4),
])
def test_how_many_people_a_dish_must_feed(recipes: CatalogReader, message: str, at_least: int) -> None:
    """A number of people said with no "at least" is how many servings the dish must give, at the least."""
    assert _read(recipes, message)[2].get(("servings", "min")) == at_least


@pytest.mark.parametrize("message", [
    "something I can cook for 2 hours on a Sunday", "I've been vegan for 6 months, ideas?",
    "a cake for my daughter's 6th birthday", "I'm 30 and I can't cook", "ready in 30 minutes for lunch",
    "two eggs and some rice, what can I do", "我30岁，刚学做饭", "roast at 200 for 45, then rest",
    "marinate for 30, then grill", "enough for 2 days", "top 5 kids snacks", "dinner for 7:30",
    "a group of 3 ingredients", "咬一口就停不下来的零食", "一口锅搞定的晚饭", "排名前五位的汤", "2份面粉做的饼",
    "dinner for one person",  # at least one serving bounds nothing
])
def test_other_numbers_are_not_people_to_feed(recipes: CatalogReader, message: str) -> None:
    bounds = _read(recipes, message)[2]
    assert ("servings", "min") not in bounds and ("servings", "max") not in bounds


def test_a_servings_bound_keeps_the_recipes_that_do_not_say_and_says_so(recipes: CatalogReader) -> None:
    """Three in four recipes give no servings: "for six people" rules out only those that say fewer, in words."""
    reading = recipes.read("dinner for six people")
    assert reading.notices and "servings" in reading.notices[0] and "don't say" in reading.notices[0]
    assert "份量" in recipes.read("我们六个人吃饭").notices[0]


@pytest.mark.parametrize(("message", "goes_with"), [
    ("a dipping sauce for dumplings", {"dumplings"}),
    ("饺子蘸酱怎么做", {"饺子"}),
    ("a good sauce for pasta", {"pasta"}),
    ("a dressing for a green salad", {"salad"}),
    ("a marinade for chicken", {"chicken"}),
])
def test_a_sauce_for_a_dish_is_a_sauce_that_goes_with_it(recipes: CatalogReader, message: str,
                                                         goes_with: set) -> None:
    """"A dipping sauce for dumplings" wanted a sauce that is a dumpling, and found nothing: the dish a sauce goes
    with is searched for, never required of the sauce."""
    reading = recipes.read(message)
    assert set(reading.any_of) == {("course", "sauce")} and set(reading.goes_with) == goes_with


def test_a_sauce_listed_beside_a_dish_is_asked_for_too(recipes: CatalogReader) -> None:
    for message in ("a soup and a dipping sauce", "汤和蘸酱"):
        assert set(recipes.read(message).any_of) == {("course", "soup"), ("course", "sauce")}, message


def test_a_number_said_wins_over_a_level_word(recipes: CatalogReader) -> None:
    assert _read(recipes, "something quick, under 45 minutes")[2] == {("time_min", "max"): 45}
    assert _read(recipes, "any time is fine")[2] == {} and recipes.read("any time is fine").cleared == ("time_min",)


@pytest.mark.parametrize(("message", "bounds"), [
    ("a short mystery, less than 300 pages", {("pages", "max"): 300}),
    ("nothing over 250 pages please", {("pages", "max"): 250}),
    ("at least 400 pages, I like long books", {("pages", "min"): 400}),
    ("something written before 1900", {("year", "max"): 1899}),
    ("不超过300页的", {("pages", "max"): 300}),
    ("1900年以后的书，三百页以内", {("year", "min"): 1900, ("pages", "max"): 300}),
])
def test_book_bounds_in_pages_and_years(books: CatalogReader, message: str, bounds: dict) -> None:
    assert _read(books, message)[2] == bounds


def test_book_genres_are_its_own_vocabulary(books: CatalogReader) -> None:
    wanted, ruled_out, _ = _read(books, "a classic, but no romance")
    assert wanted == {("genres", "Classics")} and ruled_out == {("genres", "Romance")}


def test_the_film_catalog_keeps_its_own_reader(tmp_path: Path) -> None:
    assert catalog_reader(tmp_path, []) is None  # no schema beside the catalog: the film catalog


@pytest.fixture(scope="module")
def shop() -> CatalogReader:
    """A shop's file with no text column: sku, name, a price in euros, a brand and a category."""
    rows = "sku,name,price_eur,brand,category\nS1,Blue Kettle,24.90,Kettlr,kitchen\nS2,Trail Shoes,89.50,Runna,shoes\n" \
           "S3,City Shoes,64.00,Runna,shoes\nS4,Espresso Cups,12.00,Kettlr,kitchen\n"
    return CatalogReader(infer_schema(list(csv.DictReader(io.StringIO(rows))), "shop.csv"))


@pytest.mark.parametrize(("message", "wanted", "bounds"), [
    ("running shoes under 70 euros", {("category", "shoes")}, {("price_eur", "max"): 70}),
    ("nothing over €50 for the kitchen", {("category", "kitchen")}, {("price_eur", "max"): 50}),
    ("a gift under €25.50", set(), {("price_eur", "max"): 25.5}),  # cents are kept: money is not counted in steps
    ("shoes between €60 and €90", {("category", "shoes")}, {("price_eur", "min"): 60, ("price_eur", "max"): 90}),
    ("不超过50欧元的厨房用品", set(), {("price_eur", "max"): 50}),
])
def test_prices_with_currency_words_and_symbols(shop: CatalogReader, message: str, wanted: set, bounds: dict) -> None:
    got_wanted, _, got_bounds = _read(shop, message)
    assert (got_wanted, got_bounds) == (wanted, bounds)


def test_the_llm_reads_a_catalog_with_its_own_kinds_and_code_checks_them(tmp_path: Path, gazetteer) -> None:
    """The catalog's own prompt and answer schema (its kinds as closed enums, no numbers); a kind the model wants
    but the words did not name is a search hint, a kind it rules out without the words is dropped and said."""
    import json

    from chatbot.llm import FakeChatModel
    from chatbot.turn.replies import use_catalog
    from chatbot.turn.state import DialogueState
    from chatbot.turn.understand.llm_reading import catalog_intent_schema
    from chatbot.turn.understand.understander import Understander
    from retrieval.catalog import load_catalog

    data_dir = tmp_path / "recipes"
    build_recipes_catalog(data_dir)
    answer = {"intent": "recommend", "wishes_en": "light and fresh", "want": ["salad"], "not_want": ["meat"],
              "city_en": "none", "weather": "none", "with": [], "titles": [], "people": []}
    llm = FakeChatModel(replies=[json.dumps(answer)])
    try:
        understander = Understander(llm, load_catalog(data_dir), gazetteer, llm_policy="always", data_dir=data_dir)
        intent = understander.understand("想吃点清淡爽口的，二十分钟以内", DialogueState())
    finally:
        use_catalog(None)
    prompt = llm.calls[0].text
    assert "dishes to cook" in prompt and "salad" in prompt and "genres" not in prompt.lower()
    kinds = understander.catalog.kinds()
    schema = catalog_intent_schema(kinds)
    assert schema["properties"]["want"]["items"]["enum"] == list(kinds) and "runtime_max" not in schema["properties"]
    assert intent.bounds == [("time_min", "max", 20.0)] and intent.facets_none == []  # "meat" was never said
    assert intent.wishes == ["light and fresh"] and intent.hints == ["salad"]  # soft: a guess, not a filter
    assert intent.facets_any == [] and any("不要meat" in n or "meat" in n for n in intent.notes)
    assert not intent.notices  # the film reader's "20 minutes is too short for a film" is not said about dishes


@pytest.mark.parametrize(("message", "answer", "guessed"), [
    # the embedded model's real answers (session 28): kinds the person never said
    ("a creamy pasta for dinner", {"wishes_en": "creamy pasta", "want": ["pork", "dairy", "meat"]}, "meat"),
    ("something warming with beans for a weeknight", {"wishes_en": "warming beans", "want": ["soup"]}, "soup"),
])
def test_a_kind_the_llm_guessed_is_never_what_you_asked_for(tmp_path: Path, gazetteer, message: str, answer: dict,
                                                             guessed: str) -> None:
    """Cards said "you asked for: meat" of a vegan pasta (the model's guess for "a creamy pasta"), and the note
    writer took that reason as leave to write "Pork is a great addition"; a grandparents' dish searched as a
    dessert. A guessed kind is a search word only when the person's own wish is missing, and never a reason."""
    import json
    from dataclasses import replace

    from chatbot.config import Settings
    from chatbot.llm import FakeChatModel
    from chatbot.turn.context.rules import RuleOutcome
    from chatbot.turn.recommend import Recommender
    from chatbot.turn.replies import use_catalog
    from chatbot.turn.state import DialogueState, remove_slot, update
    from chatbot.turn.understand.understander import Understander
    from retrieval.catalog import load_catalog
    from retrieval.types import Filters

    data_dir = tmp_path / "recipes"
    build_recipes_catalog(data_dir)
    full = {"intent": "recommend", "not_want": [], "city_en": "none", "weather": "none", "with": [], "titles": [],
            "people": [], **answer}
    llm = FakeChatModel(replies=[json.dumps(full)])
    try:
        understander = Understander(llm, load_catalog(data_dir), gazetteer, llm_policy="always", data_dir=data_dir)
        intent = understander.understand(message, DialogueState())
    finally:
        use_catalog(None)
    state = update(DialogueState(), intent)
    assert answer["wishes_en"] in state.wishes and guessed in " ".join(state.hints)
    assert not any(guessed in wish for wish in state.wishes)  # the wish reason is "you asked for: {wishes[-1]}"
    recommender = Recommender(searcher=None, scorer=None, settings=Settings(), ranking="full", positions={})
    rules = RuleOutcome(filters=Filters())
    assert guessed not in recommender.query_text(state, rules)
    assert guessed in recommender.query_text(replace(state, wishes=()), rules)  # no wish of their own: the guess
    assert remove_slot(state, "wishes").hints == ()  # "forget what I said" forgets the guesses too


@pytest.mark.parametrize(("message", "answer"), [
    # the embedded model's real answer (session 28): "dessert" is the kind the understanding prompt's example asks for
    ("a soft, simple dish for my grandparents, not too heavy", {"wishes_en": "soft and simple", "want": ["dessert"]}),
    ("got anything quick for a rainy night?", {"wishes_en": "cozy for a snowy evening", "want": ["dessert"]}),
])
def test_the_prompts_own_example_is_not_read_into_a_request(tmp_path: Path, gazetteer, message: str,
                                                            answer: dict) -> None:
    """A small model answers with its prompt's example ("cozy for a snowy evening", the example's kind): those words
    came from the prompt, not the person, so they steer no search; the person's own words still do."""
    import json

    from chatbot.llm import FakeChatModel
    from chatbot.turn.replies import use_catalog
    from chatbot.turn.state import DialogueState, update
    from chatbot.turn.understand.understander import Understander
    from retrieval.catalog import load_catalog

    data_dir = tmp_path / "recipes"
    build_recipes_catalog(data_dir)
    full = {"intent": "recommend", "not_want": [], "city_en": "none", "weather": "none", "with": [], "titles": [],
            "people": [], **answer}
    try:
        understander = Understander(FakeChatModel(replies=[json.dumps(full)]), load_catalog(data_dir), gazetteer,
                                    llm_policy="always", data_dir=data_dir)
        state = update(DialogueState(), understander.understand(message, DialogueState()))
    finally:
        use_catalog(None)
    searched = " ".join(state.wishes + state.hints)
    assert "dessert" not in searched and "snowy" not in searched and "cozy" not in searched, state
    assert "soft" in searched or "quick" in searched or state.bounds, state


@pytest.mark.parametrize(("message", "asks_llm"), [
    ("推荐一道素菜", False),
    ("想烤个蛋糕", False),
    ("给全家做一道主菜", False),
    ("想做甜点，不要奶制品", False),
    ("我想做一道不辣的汤，给老人吃", False),
    ("my son is allergic to nuts, a cake for his birthday", False),
    ("a gluten-free main course", False),
    ("something easy I can cook in ten minutes", False),
    ("something to bring to a potluck", True),  # "potluck": words no list explains go to the LLM
    ("a creamy pasta for dinner", True),
    ("想做一道适合野餐的菜", True),
])
def test_a_request_the_words_explain_needs_no_llm(tmp_path_factory: pytest.TempPathFactory, gazetteer, message: str,
                                                  asks_llm: bool) -> None:
    """With the default lean policy, a first request on the recipes catalog whose every word code explains
    (the catalog's noun, verb and measure word, 做/吃/道 and negations included) is read without the LLM (its
    first card comes seconds sooner); a word no list knows still goes to it."""
    from chatbot.llm import FakeChatModel
    from chatbot.turn.replies import use_catalog
    from chatbot.turn.state import DialogueState
    from chatbot.turn.understand.understander import Understander
    from retrieval.catalog import load_catalog

    data_dir = tmp_path_factory.getbasetemp() / "recipes-lean"
    if not (data_dir / "catalog.jsonl").exists():
        build_recipes_catalog(data_dir)
    llm = FakeChatModel(replies=[{"intent": "recommend", "wishes_en": "", "want": [], "not_want": [], "city_en": "none",
                                  "weather": "none", "with": [], "titles": [], "people": []}])
    try:
        understander = Understander(llm, load_catalog(data_dir), gazetteer, llm_policy="lean", data_dir=data_dir)
        intent = understander.understand(message, DialogueState())
    finally:
        use_catalog(None)
    assert bool(llm.calls) == asks_llm
    assert intent.intent == "recommend"
    said = set(" ".join(intent.wishes).split())  # the search words: nothing read already, nothing idle
    assert not said & {"allergic", "his", "cook", "cake", "gluten-free", "easy", "ten", "minutes"}, intent.wishes


@pytest.mark.parametrize(("message", "plain"), [
    ("something for dinner, not too heavy", "light"),
    ("nothing heavy tonight please, my stomach is off", "light"),
    ("I want something lighter than that", "light"),
    ("a soup that isn't too heavy for my grandparents", "light"),
    ("不要太沉重的，晚饭吃点什么", "light"),
    ("something heavier for a cold night", "hearty"),
])
def test_a_films_mood_is_never_a_dishs_wish(tmp_path_factory: pytest.TempPathFactory, gazetteer, message: str,
                                            plain: str) -> None:
    """The word lists read "not too heavy" as a film's mood ("uplifting", "light-hearted feel-good"), which the
    recipes search then looked for and the cards said "you asked for: uplifting"; on any catalog but films the
    same words are its plain wish ("light", "hearty"), and on films they stay the mood."""
    from chatbot.turn.replies import use_catalog
    from chatbot.turn.state import DialogueState
    from chatbot.turn.understand.understander import Understander
    from retrieval.catalog import load_catalog

    data_dir = tmp_path_factory.getbasetemp() / "recipes-lean"
    if not (data_dir / "catalog.jsonl").exists():
        build_recipes_catalog(data_dir)
    try:
        understander = Understander(None, load_catalog(data_dir), gazetteer, llm_policy="never", data_dir=data_dir)
        intent = understander.understand(message, DialogueState())
    finally:
        use_catalog(None)
    said = " ".join(intent.wishes)
    assert plain in intent.wishes, intent.wishes
    assert not any(mood in said for mood in ("uplifting", "feel-good", "light-hearted", "gritty", "intense")), said
    films = Understander(None, [], gazetteer, llm_policy="never").understand(message, DialogueState())
    assert plain not in films.wishes and films.wishes, films.wishes  # a film's mood stays a film's
