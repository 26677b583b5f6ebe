"""A catalog schema as a YAML file: read and checked at the edge (pydantic, unknown keys refused), written back.

Every problem is a `CatalogError` that names the file, the field (a dotted path such as `numbers.pages.unit`) and
the reason. YAML is read by the one reader, `retrieval.datafile.load_data`.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from retrieval.datafile import load_data
from retrieval.errors import CatalogError, DataFileError
from retrieval.schema import (
    DEFAULT_MAX_VALUES,
    SCHEMA_FILE,
    CatalogSchema,
    Facet,
    InteractionsSpec,
    ItemNoun,
    Lead,
    Level,
    NumberField,
    PeopleField,
    Spelling,
    Suitability,
    TextField,
    Unit,
    Words,
)

SCHEMAS_PACKAGE = "retrieval.schemas"
PACKAGED = ("films", "recipes")  # the schemas shipped with the demo catalogs


class _Edge(BaseModel):
    """Base of the file models: unknown keys are an error."""

    model_config = ConfigDict(extra="forbid")


class _WordsModel(_Edge):
    en: list[str] = []
    zh: list[str] = []


class _NounModel(_Edge):
    en: str
    en_plural: str = ""
    zh: str
    measure_zh: str = "个"
    verb_en: str = "try"
    verb_en_past: str = ""
    verb_zh: str = "试"


class _TextModel(_Edge):
    label_en: str = ""
    label_zh: str = ""
    multi: bool = False
    separator: str | None = Field(default=None, min_length=1)
    embed: bool = True
    show: bool = True


class _FacetModel(_Edge):
    label_en: str = ""
    label_zh: str = ""
    multi: bool = False
    separator: str | None = Field(default=None, min_length=1)
    vocabulary: list[str] = []
    synonyms: dict[str, _WordsModel] = {}
    max_values: int = Field(default=DEFAULT_MAX_VALUES, ge=2)
    derived: str = ""
    asked_only: list[str] = []
    also_in: list[str] = []


class _LevelModel(_Edge):
    min: float | None = None
    max: float | None = None
    en: list[str] = []
    zh: list[str] = []


class _NumberModel(_Edge):
    unit: str
    label_en: str = ""
    label_zh: str = ""
    range: tuple[float | None, float | None] | None = None
    levels: dict[str, _LevelModel] = {}
    unknown_passes: bool = False


class _PeopleModel(_Edge):
    role_en: str
    role_zh: str = ""
    multi: bool = True
    separator: str | None = Field(default="|", min_length=1)


class _SuitabilityModel(_Edge):
    field: str
    label_en: str = ""
    label_zh: str = ""
    scale: list[str] = Field(min_length=2)
    spellings: dict[str, str] = {}
    unknown: list[str] = []
    words: dict[str, _WordsModel] = {}


class _InteractionsModel(_Edge):
    file: str
    user: str = "user"
    item: str = "item"
    rating: str | None = None
    event: str | None = None
    timestamp: str | None = None
    like_min: float | None = None
    like_events: list[str] = []


class _SchemaModel(_Edge):
    name: str = Field(min_length=1)
    noun: _NounModel
    id: str = "id"
    title: str = "title"
    texts: dict[str, _TextModel] = {}
    facets: dict[str, _FacetModel] = {}
    numbers: dict[str, _NumberModel] = {}
    people: dict[str, _PeopleModel] = {}
    suitability: _SuitabilityModel | None = None
    image: str | None = None
    popularity: str | None = None
    interactions: _InteractionsModel | None = None
    other: list[str] = []
    notes: list[str] = []


# ---------------------------------------------------------------- units
@lru_cache(maxsize=1)
def units() -> dict[str, Unit]:
    """Every known unit by name (retrieval/schemas/units.yaml)."""
    data = load_data(SCHEMAS_PACKAGE, "units.yaml")
    out: dict[str, Unit] = {}
    for name, spec in data.items():
        spellings = tuple(Spelling(float(s["factor"]), tuple(s.get("en") or ()), tuple(s.get("zh") or ()),
                                   tuple(s.get("symbols") or ()), bool(s.get("part")))
                          for s in spec.get("spellings") or ())
        low, high = spec.get("range") or (None, None)
        lead = spec.get("lead") or {}
        out[name] = Unit(name, spec.get("label_en", ""), spec.get("label_zh", ""), bool(spec.get("integer")),
                         (low, high), spellings, tuple(spec.get("columns") or ()), spec.get("alone"),
                         Lead(*(tuple(lead.get(k) or ()) for k in ("en", "for_after", "not_before"))))
    return out


# ---------------------------------------------------------------- file -> schema
def _fail(where: str, path: str, reason: str) -> CatalogError:
    """The one error shape: file, field, reason."""
    return CatalogError(f"catalog schema {where}, field {path}: {reason}")


def _words(model: _WordsModel | _LevelModel) -> Words:
    """Words from a file model."""
    return Words(tuple(model.en), tuple(model.zh))


def _number(name: str, spec: _NumberModel, where: str) -> NumberField:
    """One number field, its unit resolved and its range checked."""
    known = units()
    if spec.unit not in known:
        raise _fail(where, f"numbers.{name}.unit", f"{spec.unit!r} is not a known unit (known: {', '.join(known)})")
    unit = known[spec.unit]
    low, high = spec.range if spec.range is not None else unit.range
    if low is not None and high is not None and low > high:
        raise _fail(where, f"numbers.{name}.range",
                    f"[{low}, {high}] is not a range (the minimum is above the maximum)")
    levels = tuple(Level(level, lv.min, lv.max, _words(lv)) for level, lv in spec.levels.items())
    for level in levels:
        if level.min is None and level.max is None:
            raise _fail(where, f"numbers.{name}.levels.{level.name}", "needs a min or a max")
    return NumberField(name, unit, spec.label_en or name, spec.label_zh, (low, high), levels, spec.unknown_passes)


def _facet(name: str, spec: _FacetModel, where: str) -> Facet:
    """One facet; synonyms of a closed vocabulary must name its values."""
    if spec.multi and not spec.separator and not spec.derived:
        raise _fail(where, f"facets.{name}.separator", "a multi-valued facet needs a separator (such as '|')")
    if spec.vocabulary:
        stray = sorted(set(spec.synonyms) - set(spec.vocabulary))
        if stray:
            raise _fail(where, f"facets.{name}.synonyms", f"{stray} are not in the vocabulary")
    if len(spec.vocabulary) > spec.max_values:
        raise _fail(where, f"facets.{name}.vocabulary",
                    f"has {len(spec.vocabulary):,} values, above max_values {spec.max_values:,}")
    if stray := sorted(set(spec.asked_only) - set(spec.vocabulary)):
        raise _fail(where, f"facets.{name}.asked_only", f"{stray} are not in the vocabulary")
    synonyms = tuple((value, _words(words)) for value, words in spec.synonyms.items())
    return Facet(name, spec.label_en or name, spec.label_zh, spec.multi, spec.separator, tuple(spec.vocabulary),
                 synonyms, spec.max_values, spec.derived, tuple(spec.asked_only), tuple(spec.also_in))


def _suitability(spec: _SuitabilityModel, where: str) -> Suitability:
    """The suitability scale; its spellings and words must name levels of the scale."""
    if len(set(spec.scale)) != len(spec.scale):
        raise _fail(where, "suitability.scale", "repeats a level")
    stray = sorted({v for v in spec.spellings.values() if v not in spec.scale} | (set(spec.words) - set(spec.scale)))
    if stray:
        raise _fail(where, "suitability", f"{stray} are not levels of the scale {spec.scale}")
    return Suitability(spec.field, tuple(spec.scale), spec.label_en or spec.field, spec.label_zh,
                       tuple(spec.spellings.items()), tuple(spec.unknown),
                       tuple((level, _words(w)) for level, w in spec.words.items()))


def _interactions(spec: _InteractionsModel, where: str) -> InteractionsSpec:
    """The interactions file spec: a rating or an event column says what a like is."""
    if spec.rating is None and spec.event is None:
        raise _fail(where, "interactions", "name a `rating` or an `event` column")
    if spec.like_min is not None and spec.rating is None:
        raise _fail(where, "interactions.like_min", "needs a `rating` column")
    return InteractionsSpec(spec.file, spec.user, spec.item, spec.rating, spec.event, spec.timestamp,
                            spec.like_min, tuple(spec.like_events))


def _check_roles(schema: CatalogSchema, where: str) -> None:
    """No column may play two parts; popularity must be one of the numbers."""
    seen: dict[str, str] = {}
    parts = [(schema.id, "id"), (schema.title, "title")]
    parts += [(t.name, "texts") for t in schema.texts] + [(f.name, "facets") for f in schema.facets]
    parts += [(n.name, "numbers") for n in schema.numbers] + [(p.name, "people") for p in schema.people]
    parts += [(schema.suitability.field, "suitability")] if schema.suitability else []
    parts += [(schema.image, "image")] if schema.image else []
    parts += [(name, "other") for name in schema.other]
    for name, part in parts:
        if name in seen:
            raise _fail(where, f"{part}.{name}" if part not in ("id", "title", "image") else part,
                        f"the column {name!r} is already the {seen[name]}")
        seen[name] = part
    texts = {"title", *(t.name for t in schema.texts)}
    for facet in schema.facets:
        if stray := sorted(set(facet.also_in) - texts):
            raise _fail(where, f"facets.{facet.name}.also_in", f"{stray} are not the title or one of the texts")
    if schema.popularity and not schema.number(schema.popularity):
        raise _fail(where, "popularity", f"{schema.popularity!r} is not one of the numbers")


def schema_from_data(data: Any, where: str) -> CatalogSchema:
    """Check parsed YAML and build the schema; CatalogError naming the field and the reason."""
    if not isinstance(data, dict):
        raise CatalogError(f"catalog schema {where}: the file must be a YAML mapping (name:, noun:, id:, ...)")
    try:
        spec = _SchemaModel.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        path = ".".join(str(p) for p in err["loc"]) or "(file)"
        reason = str(err["msg"]).removeprefix("Value error, ")
        more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
        raise _fail(where, path, reason + more) from None
    n = spec.noun
    noun = ItemNoun(n.en, n.en_plural or n.en + "s", n.zh, n.measure_zh, n.verb_en, n.verb_en_past or n.verb_en + "ed",
                    n.verb_zh)
    schema = CatalogSchema(
        name=spec.name, noun=noun, id=spec.id, title=spec.title,
        texts=tuple(TextField(k, v.label_en or k, v.label_zh, v.multi, v.separator, v.embed, v.show)
                    for k, v in spec.texts.items()),
        facets=tuple(_facet(k, v, where) for k, v in spec.facets.items()),
        numbers=tuple(_number(k, v, where) for k, v in spec.numbers.items()),
        people=tuple(PeopleField(k, v.role_en, v.role_zh, v.multi, v.separator) for k, v in spec.people.items()),
        suitability=_suitability(spec.suitability, where) if spec.suitability else None,
        image=spec.image, popularity=spec.popularity,
        interactions=_interactions(spec.interactions, where) if spec.interactions else None,
        other=tuple(spec.other), notes=tuple(spec.notes),
    )
    _check_roles(schema, where)
    return schema


def load_schema(path: Path) -> CatalogSchema:
    """Read and check a schema file (CatalogError naming the file, field and reason)."""
    path = Path(path)
    try:
        data = load_data(SCHEMAS_PACKAGE, path.name, path=path)
    except DataFileError as exc:
        raise CatalogError(f"catalog schema {path.name}: {exc}") from exc
    return schema_from_data(data, path.name)


@lru_cache(maxsize=4)
def packaged_schema(name: str) -> CatalogSchema:
    """A schema shipped with a demo catalog: 'films' or 'recipes'."""
    if name not in PACKAGED:
        raise CatalogError(f"there is no packaged catalog schema {name!r} (known: {', '.join(PACKAGED)})")
    try:
        data = load_data(SCHEMAS_PACKAGE, f"{name}.yaml")
    except DataFileError as exc:
        raise CatalogError(f"catalog schema {name}.yaml: {exc}") from exc
    return schema_from_data(data, f"{name}.yaml")


def schema_for(data_dir: Path) -> CatalogSchema:
    """The schema beside a data dir's catalog; a catalog without one is today's film catalog."""
    path = Path(data_dir) / SCHEMA_FILE
    return load_schema(path) if path.is_file() else packaged_schema("films")


# ---------------------------------------------------------------- schema -> file
def _drop_empty(data: dict[str, Any]) -> dict[str, Any]:
    """A mapping without None, empty lists and empty mappings (the file stays short)."""
    return {k: v for k, v in data.items() if v not in (None, [], {}, (), "")}


def _words_dict(words: Words) -> dict[str, list[str]]:
    """Words as the file writes them."""
    return _drop_empty({"en": list(words.en), "zh": list(words.zh)})


def _plain(value: float | None) -> float | int | None:
    """1870.0 -> 1870 (the file reads as a person wrote it)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _number_dict(n: NumberField) -> dict[str, Any]:
    """One number field as the file writes it."""
    levels = {lv.name: _drop_empty({"min": _plain(lv.min), "max": _plain(lv.max), **_words_dict(lv.words)})
              for lv in n.levels}
    rng = [_plain(v) for v in n.range] if n.range != n.unit.range else None
    return _drop_empty({"unit": n.unit.name, "label_en": n.label_en, "label_zh": n.label_zh, "range": rng,
                        "levels": levels, "unknown_passes": n.unknown_passes or None})


def schema_to_data(schema: CatalogSchema) -> dict[str, Any]:
    """The schema as plain data, in the file's layout (what `schema_from_data` reads back)."""
    facets = {f.name: _drop_empty({
        "label_en": f.label_en, "label_zh": f.label_zh, "multi": f.multi or None, "separator": f.separator,
        "vocabulary": list(f.vocabulary), "synonyms": {v: _words_dict(w) for v, w in f.synonyms},
        "max_values": f.max_values if f.max_values != DEFAULT_MAX_VALUES else None, "derived": f.derived,
        "asked_only": list(f.asked_only), "also_in": list(f.also_in),
    }) for f in schema.facets}
    suit = schema.suitability
    data = {
        "name": schema.name, "noun": asdict(schema.noun), "id": schema.id, "title": schema.title,
        "texts": {t.name: _drop_empty({"label_en": t.label_en, "label_zh": t.label_zh, "multi": t.multi or None,
                                       "separator": t.separator, "embed": t.embed, "show": t.show})
                  for t in schema.texts},
        "facets": facets,
        "numbers": {n.name: _number_dict(n) for n in schema.numbers},
        "people": {p.name: _drop_empty({"role_en": p.role_en, "role_zh": p.role_zh, "multi": p.multi,
                                        "separator": p.separator}) for p in schema.people},
        "suitability": _drop_empty({
            "field": suit.field, "label_en": suit.label_en, "label_zh": suit.label_zh, "scale": list(suit.scale),
            "spellings": dict(suit.spellings), "unknown": list(suit.unknown),
            "words": {lv: _words_dict(w) for lv, w in suit.words}}) if suit else None,
        "image": schema.image, "popularity": schema.popularity,
        "interactions": _drop_empty({**asdict(schema.interactions),
                                     "like_events": list(schema.interactions.like_events)})
        if schema.interactions else None,
        "other": list(schema.other), "notes": list(schema.notes),
    }
    return {k: v for k, v in data.items() if k in ("name", "noun", "id", "title") or v not in (None, [], {})}


_HEADER = """\
# The catalog schema: what each column of this catalog means (tastebud reads it beside catalog.jsonl).
# Edit it and import again (`tastebud data import FILE --schema {name}`) to change any of it:
#   noun          what one item is called, in English and Chinese, and what people do with it
#   id, title     the id and title columns
#   texts         free text: embed (searched by meaning), show (given to the LLM when it writes a note)
#   facets        categories: multi (several per item, split at `separator`), vocabulary, synonyms in en/zh;
#                 a facet with more than max_values distinct values is kept as text
#                 asked_only: values an item is shown for only when the person names them (a sauce is no dish)
#                 also_in: the title or texts whose words also give an item a value ("Chicken Pie" is Chicken)
#   numbers       a unit from retrieval/schemas/units.yaml (minutes, pages, eur, year, servings ...), the
#                 plausible range, and levels (words for part of the range: quick = at most 30 minutes);
#                 unknown_passes: an item that does not give the number passes a bound on it
#   people        people or makers by role (author, director, chef, brand)
#   suitability   an ordered scale (least to most restricted); an item with no known level never passes
#   image, popularity, interactions, other (kept, unused), notes (what was decided and why)
"""


def schema_yaml(schema: CatalogSchema) -> str:
    """The schema as YAML text with a short header explaining the keys."""
    data = schema_to_data(schema)
    notes = {"notes": data.pop("notes")} if "notes" in data else {}
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110, default_flow_style=None)
    if notes:  # one note per line, not one long flow list
        body += yaml.safe_dump(notes, allow_unicode=True, sort_keys=False, width=110, default_flow_style=False)
    return _HEADER.format(name=SCHEMA_FILE) + body


def write_schema(schema: CatalogSchema, target: Path) -> Path:
    """Save the schema as YAML: into `target` when it is a .yaml path, else beside the catalog in that data dir."""
    target = Path(target)
    path = target if target.suffix in (".yaml", ".yml") else target / SCHEMA_FILE
    text = schema_yaml(schema)
    schema_from_data(schema_to_data(schema), path.name)  # what is written must read back
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise CatalogError(f"cannot write the catalog schema {path}: {exc.strerror or exc}") from exc
    return path


def with_vocabulary(schema: CatalogSchema, values: dict[str, list[str]]) -> CatalogSchema:
    """The schema with the vocabularies of the named facets set from the data (most frequent first).

    Synonyms of values the data lacks are dropped with them (a closed vocabulary names every synonym's value).
    """
    def closed(facet: Facet) -> Facet:
        """One facet with its vocabulary from the data."""
        vocabulary = tuple(values[facet.name])
        synonyms = tuple((v, w) for v, w in facet.synonyms if v in vocabulary)
        return replace(facet, vocabulary=vocabulary, synonyms=synonyms)

    return replace(schema, facets=tuple(closed(f) if f.name in values else f for f in schema.facets))


# ---------------------------------------------------------------- schema -> words for the operator
def _describe_parts(schema: CatalogSchema) -> list[tuple[str, str]]:
    """(heading, one line) pairs: every column and what it is, in the schema's order."""
    rows: list[tuple[str, str]] = [("id", schema.id), ("title", schema.title)]
    for t in schema.texts:
        use = " and ".join(u for u, on in (("searched", t.embed), ("shown to the LLM", t.show)) if on) or "kept"
        rows.append(("text", f"{t.name}: {'a list of lines, ' if t.multi else ''}{use}"))
    for f in schema.facets:
        shape = f"several per {schema.noun.en}, split at {f.separator!r}" if f.multi and f.separator else \
            ("several per " + schema.noun.en if f.multi else f"one per {schema.noun.en}")
        more = ", …" if len(f.vocabulary) > 6 else ""
        vocab = f"{len(f.vocabulary)} values ({', '.join(f.vocabulary[:6])}{more})" if f.vocabulary else \
            "values read from the catalog"
        rows.append(("facet", f"{f.name}: {shape}; {vocab}" + (f"; derived by {f.derived}" if f.derived else "")))
    for n in schema.numbers:
        low, high = n.range
        bounds = f"{_plain(low) if low is not None else '…'} to {_plain(high) if high is not None else '…'}"
        words = [w for s in n.unit.spellings[:1] for w in s.en[:3] + s.zh[:1] + s.symbols[:1]]
        levels = f"; levels {', '.join(lv.name for lv in n.levels)}" if n.levels else ""
        rows.append(("number", f"{n.name}: {n.unit.name}" + (f" ({', '.join(words)})" if words else "")
                     + f", plausible {bounds}{levels}"))
    for p in schema.people:
        rows.append(("people", f"{p.name}: {p.role_en}" + (f" / {p.role_zh}" if p.role_zh else "")
                     + (f", several per {schema.noun.en} split at {p.separator!r}" if p.multi else "")))
    if schema.suitability:
        rows.append(("suitability", f"{schema.suitability.field}: {' < '.join(schema.suitability.scale)} "
                                    "(an unknown level never passes)"))
    rows += [("image", schema.image)] if schema.image else []
    rows += [("popularity", schema.popularity)] if schema.popularity else []
    rows += [("other", f"{', '.join(schema.other)} (kept, unused)")] if schema.other else []
    return rows


def describe_schema(schema: CatalogSchema, path: Path | None = None) -> str:
    """The schema in a few readable lines for the operator, its notes, and how to change it."""
    n = schema.noun
    lines = [f"catalog schema {schema.name!r}: each item is a {n.en} / {n.zh} ({n.measure_zh}); "
             f"people {n.verb_en} it / {n.verb_zh}"]
    lines += [f"  {head:<12} {text}" for head, text in _describe_parts(schema)]
    if schema.notes:
        lines.append("notes:")
        lines += [f"  - {note}" for note in schema.notes]
    where = str(path) if path else SCHEMA_FILE
    lines.append(f"edit {where} and import again with `--schema {where}` to change any of this")
    return "\n".join(lines)
