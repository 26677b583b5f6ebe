"""Catalog on disk and the import of a person's own catalog file: good rows in, bad rows reported precisely."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from chatbot.doors.cli import main
from retrieval.catalog import catalog_hash, load_catalog, read_meta, write_catalog
from retrieval.catalog_import import ImportReport, import_catalog_file
from retrieval.catalog_rows import RowProblem
from retrieval.errors import CatalogError
from retrieval.types import Item

HEADER = "id,title,year,genres,runtime_min,age_rating,cast,plot,mood\n"
BIG = "x" * 10_000_000  # a 10 MB text field


def _bad_csv_bytes() -> bytes:
    """A CSV with two good rows and one row for every kind of problem (row numbers in the comments)."""
    lines = [
        HEADER,
        'm1,Alpha,1999,Comedy|drama,95,pg-13,"Ann Lee, Bo Chen",A quiet film.,cozy\n',  # 1 good
        ",No Id,2000,Drama,90,R,,,\n",  # 2 missing id
        "m3,,2001,Drama,90,R,,,\n",  # 3 missing title
        "m4,Delta,abc,Drama,90,R,,,\n",  # 4 bad year
        "m5,Echo,2002,Drama,-5,R,,,\n",  # 5 negative runtime
        "m1,Alpha again,2003,Drama,90,R,,,\n",  # 6 duplicate id
        f"m7,Huge,2004,Drama,90,R,,{BIG},\n",  # 7 field too long
    ]
    body = "".join(lines).encode("utf-8")
    body += b"m8,Caf\xe9 Noir,2005,Drama,90,R,,,\n"  # 8 broken UTF-8 (a Latin-1 byte)
    body += 'm9,Good Two,2006,"[""Horror"", ""Sci-Fi""]",101,,"[""Cy Dee""]",,dark\n'.encode()  # 9 good: JSON lists
    body += "m10,Kappa,2007,Drama,90,TV-MA,,,\n".encode("utf-8")  # 10 rating not on our scale
    return body


EXPECTED_PROBLEMS = [(2, "id"), (3, "title"), (4, "year"), (5, "runtime_min"), (6, "id"), (7, "plot"),
                     (8, "title"), (10, "age_rating")]


@pytest.fixture
def bad_csv(tmp_path: Path) -> Path:
    """The CSV with every kind of bad row."""
    path = tmp_path / "mine.csv"
    path.write_bytes(_bad_csv_bytes())
    return path


def _sample_items() -> list[Item]:
    """Two small items."""
    return [
        Item(id="a", title="Alpha", year=1999, genres=("Comedy",), cast=("Ann Lee",)),
        Item(id="b", title="Beta", plot="A plot.", attributes=(("mood", "dark"),)),
    ]


# ---------------------------------------------------------------- import: CSV with every bad-row case
def test_csv_import_reports_each_bad_row_and_keeps_the_good(bad_csv: Path) -> None:
    report = import_catalog_file(bad_csv)
    assert [(p.row, p.field) for p in report.problems] == EXPECTED_PROBLEMS
    assert [item.id for item in report.items] == ["m1", "m9"]
    assert report.n_rows == 10 and report.n_rejected == 8


def test_csv_import_problem_reasons_read_like_sentences(bad_csv: Path) -> None:
    reasons = {(p.row, p.field): p.reason for p in import_catalog_file(bad_csv).problems}
    assert str(RowProblem(4, "year", reasons[(4, "year")])) == "row 4, field year: 'abc' is not a year"
    assert "missing" in reasons[(2, "id")] and "missing" in reasons[(3, "title")]
    assert "positive" in reasons[(5, "runtime_min")]
    assert "row 1" in reasons[(6, "id")]  # says which row it repeats
    assert "10,000,000 characters" in reasons[(7, "plot")] and "20,000" in reasons[(7, "plot")]
    assert "UTF-8" in reasons[(8, "title")]
    assert "'TV-MA'" in reasons[(10, "age_rating")]


def test_csv_import_parses_fields_into_items(bad_csv: Path) -> None:
    items = {item.id: item for item in import_catalog_file(bad_csv).items}
    alpha, good_two = items["m1"], items["m9"]
    assert alpha.year == 1999 and alpha.runtime_min == 95
    assert alpha.genres == ("Comedy", "Drama")  # case fixed to the MovieLens spelling
    assert alpha.age_rating == "PG-13"
    assert alpha.cast == ("Ann Lee", "Bo Chen")
    assert alpha.plot == "A quiet film."
    assert dict(alpha.attributes) == {"mood": "cozy"}  # an extra column, kept
    assert good_two.genres == ("Horror", "Sci-Fi") and good_two.cast == ("Cy Dee",)
    assert good_two.age_rating is None


def test_csv_with_semicolons_and_unknown_rating_words(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("ID;Title;Year;Age_Rating;Countries\nx1;Un film;1960;Not Rated;France, Italy\n", encoding="utf-8")
    (item,) = import_catalog_file(path).items
    assert (item.id, item.title, item.year, item.age_rating) == ("x1", "Un film", 1960, None)
    assert item.countries == ("France", "Italy")


def test_csv_row_with_extra_cells_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "shifted.csv"
    path.write_text("id,title,year\na,Alpha,1999\nb,Beta, the sequel,2001\n", encoding="utf-8")
    report = import_catalog_file(path)
    assert [i.id for i in report.items] == ["a"]
    assert [(p.row, p.field) for p in report.problems] == [(2, "(row)")]
    assert "3 columns" in report.problems[0].reason


# ---------------------------------------------------------------- import: JSONL and Parquet
def test_jsonl_import_reports_broken_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "j1", "title": "Uno", "year": 1990, "directors": ["Ann Lee"], "tags": ["a", "b"]}).encode(),
        b'{"id": "j2", "title": "Caf\xe9"}',  # broken UTF-8
        b"{not json",
        b"",
        json.dumps({"id": 42, "title": "Answer", "runtime_min": 120.0}).encode(),
        json.dumps({"id": "j5", "title": "Bad year", "year": 1995.5}).encode(),
        json.dumps({"id": "j6", "title": "Wrong type", "cast": {"lead": "x"}}).encode(),
    ]
    path = tmp_path / "mine.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = import_catalog_file(path)
    assert [(p.row, p.field) for p in report.problems] == [(2, "title"), (3, "(row)"), (6, "year"), (7, "cast")]
    items = {i.id: i for i in report.items}
    assert set(items) == {"j1", "42"}
    assert items["j1"].directors == ("Ann Lee",) and dict(items["j1"].attributes) == {"tags": ["a", "b"]}
    assert items["42"].runtime_min == 120


def test_parquet_import_with_list_columns_and_nulls(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "id": ["p1", "p2", "p3"],
        "title": ["One", "Two", None],
        "year": [2001, None, 2003],
        "genres": [["Drama", "Romance"], [], ["Comedy"]],
        "mean_rating": [4.5, float("nan"), 3.0],
        "studio": ["A24", None, "Ghibli"],
    })
    path = tmp_path / "mine.parquet"
    frame.to_parquet(path, index=False)
    report = import_catalog_file(path)
    assert [(p.row, p.field) for p in report.problems] == [(3, "title")]
    items = {i.id: i for i in report.items}
    assert items["p1"].genres == ("Drama", "Romance") and items["p1"].year == 2001
    # no column only films have: the schema is guessed, and the studio becomes one of its facets (filterable)
    assert report.inferred and report.schema.facet("studio") is not None
    assert dict(items["p1"].attributes) == {"studio": ["A24"]}
    assert items["p2"].year is None and items["p2"].mean_rating is None and items["p2"].attributes == ()


# ---------------------------------------------------------------- import: files that are unusable as a whole
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty"),
        ("header_only.csv", b"id,title\n", "empty"),
        ("empty.jsonl", b"\n\n", "empty"),
        ("no_id.csv", b"name,title\nx,Alpha\n", "no id column: looked for"),
        ("no_title.jsonl", b'{"id": "a"}\n', "no 'title' column"),
        ("catalog.xlsx", b"whatever", "unknown file type"),
    ],
)
def test_unusable_files_raise_catalog_error(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CatalogError, match=message):
        import_catalog_file(path)


def test_missing_file_raises_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        import_catalog_file(tmp_path / "nope.csv")


# ---------------------------------------------------------------- the catalog in a data dir
def test_write_then_load_round_trips_and_records_the_hash(data_dir: Path) -> None:
    items = _sample_items()
    write_catalog(data_dir, items, {"source": "import:test.csv"})
    assert load_catalog(data_dir) == items
    meta = read_meta(data_dir)
    assert meta["hash"] == catalog_hash(data_dir) and meta["n_items"] == 2 and meta["source"] == "import:test.csv"
    assert not list(data_dir.glob("*.tmp"))


def test_catalog_hash_changes_with_content(data_dir: Path) -> None:
    write_catalog(data_dir, _sample_items(), {"source": "x"})
    first = catalog_hash(data_dir)
    write_catalog(data_dir, _sample_items()[:1], {"source": "x"})
    assert catalog_hash(data_dir) != first


def test_missing_catalog_says_how_to_make_one(data_dir: Path) -> None:
    with pytest.raises(CatalogError, match="tastebud data build"):
        load_catalog(data_dir)
    with pytest.raises(CatalogError, match="tastebud data build"):
        catalog_hash(data_dir)


def test_damaged_catalog_names_the_line(data_dir: Path) -> None:
    write_catalog(data_dir, _sample_items(), {"source": "x"})
    with (data_dir / "catalog.jsonl").open("a", encoding="utf-8") as fh:
        fh.write("{oops\n")
    with pytest.raises(CatalogError, match="line 3"):
        load_catalog(data_dir)


def test_failed_write_keeps_the_previous_catalog(data_dir: Path) -> None:
    write_catalog(data_dir, _sample_items(), {"source": "first"})
    before = (data_dir / "catalog.jsonl").read_bytes()
    (data_dir / "catalog.jsonl.tmp").mkdir()  # the side file cannot be written
    with pytest.raises(CatalogError, match=str(data_dir)):
        write_catalog(data_dir, [Item(id="z", title="Zed")], {"source": "second"})
    assert (data_dir / "catalog.jsonl").read_bytes() == before
    assert read_meta(data_dir)["source"] == "first"


def test_unwritable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(CatalogError, match="cannot write the catalog in .*a-file"):
        write_catalog(blocker / "data", _sample_items(), {"source": "x"})


def test_duplicate_ids_are_refused_on_write(data_dir: Path) -> None:
    with pytest.raises(CatalogError, match="share the id"):
        write_catalog(data_dir, [Item(id="a", title="A"), Item(id="a", title="B")], {})


# ---------------------------------------------------------------- the `tastebud data import` command
def test_cli_import_prints_summary_and_problems(bad_csv: Path, data_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TASTEBUD_DATA_DIR", str(data_dir))
    assert main(["data", "import", str(bad_csv), "--no-index"]) == 0
    out = capsys.readouterr().out
    assert "imported 2 items, rejected 8 rows" in out
    assert "row 4, field year: 'abc' is not a year" in out
    assert [i.id for i in load_catalog(data_dir)] == ["m1", "m9"]
    assert read_meta(data_dir)["source"] == "import:mine.csv"


def test_cli_import_with_nothing_good_exits_2_and_keeps_the_catalog(tmp_path: Path, data_dir: Path,
                                                                      monkeypatch, capsys) -> None:
    monkeypatch.setenv("TASTEBUD_DATA_DIR", str(data_dir))
    write_catalog(data_dir, _sample_items(), {"source": "before"})
    before = (data_dir / "catalog.jsonl").read_bytes()
    path = tmp_path / "all_bad.csv"
    path.write_text("id,title,year\n,No id,1990\nb,Bad year,abc\n", encoding="utf-8")
    assert main(["data", "import", str(path), "--no-index"]) == 2
    captured = capsys.readouterr()
    assert "imported 0 items, rejected 2 rows" in captured.out
    assert "previous catalog is unchanged" in captured.err
    assert (data_dir / "catalog.jsonl").read_bytes() == before


def test_cli_import_of_unusable_file_exits_2_with_message(tmp_path: Path, data_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TASTEBUD_DATA_DIR", str(data_dir))
    path = tmp_path / "no_id.csv"
    path.write_text("name,title\nx,Alpha\n", encoding="utf-8")
    assert main(["data", "import", str(path)]) == 2
    assert "no id column: looked for" in capsys.readouterr().err
    assert not (data_dir / "catalog.jsonl").exists()


def test_cli_import_removes_interactions_for_other_items(bad_csv: Path, data_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TASTEBUD_DATA_DIR", str(data_dir))
    pd.DataFrame({"user": ["u"], "item": ["ml:1"], "rating": [4.0], "timestamp": [1]}).to_parquet(
        data_dir / "interactions.parquet")
    assert main(["data", "import", str(bad_csv), "--no-index"]) == 0
    assert not (data_dir / "interactions.parquet").exists()
    assert "removed interactions.parquet" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_import_rebuilds_the_real_search_index(tmp_path: Path, data_dir: Path, monkeypatch, capsys) -> None:
    """The real path: import, write, and build the Chroma index with the packaged MiniLM, then search it."""
    from retrieval.search import Searcher

    rows = [
        {"id": "b1", "title": "The Lighthouse Keeper", "plot": "A lonely keeper on a stormy island.", "year": 2019},
        {"id": "b2", "title": "Kitchen Confidential", "plot": "Chefs cook in a busy restaurant kitchen.", "year": 2005},
        {"id": "b3", "title": "Orbit", "plot": "Astronauts repair a failing space station.", "year": 2012},
    ]
    path = tmp_path / "books.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setenv("TASTEBUD_DATA_DIR", str(data_dir))
    assert main(["data", "import", str(path)]) == 0
    assert "imported 3 items, rejected 0 rows" in capsys.readouterr().out
    hits = Searcher.open(data_dir).search("cooking food", k=1)
    assert [h.item.id for h in hits] == ["b2"]


def test_report_summary_is_capped() -> None:
    problems = [RowProblem(i, "year", "bad") for i in range(1, 121)]
    lines = ImportReport(items=[], problems=problems, n_rows=120).summary_lines(max_problems=10)
    assert len(lines) == 12 and "110 more problems" in lines[-1]
