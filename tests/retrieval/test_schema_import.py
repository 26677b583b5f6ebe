"""`tastebud data import` of a catalog that is not films: the schema is guessed (or given), every good row comes in.

An operator drops a shop's or a library's file and expects every column to be used: a book CSV with author,
pages and description columns imports every row (a novel from 1813 too), the guessed schema is written beside
the catalog and printed, and `tastebud search --where` filters on pages and authors exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.doors.cli import main
from retrieval.catalog_import import import_catalog_file
from retrieval.errors import CatalogError
from retrieval.schema import SCHEMA_FILE
from retrieval.schema_file import load_schema
from retrieval.search import Searcher, build_index
from tests.conftest import embed_cache

BOOKS = (Path(__file__).parent.parent / "dialogues" / "data" / "books.csv").read_text(encoding="utf-8")


@pytest.fixture
def books_csv(tmp_path: Path) -> Path:
    """The 12-row book file of the catalog issue."""
    path = tmp_path / "books.csv"
    path.write_text(BOOKS, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_every_book_comes_in_with_its_author_pages_and_description(books_csv: Path) -> None:
    report = import_catalog_file(books_csv)
    assert len(report.items) == 12 and report.problems == [] and report.inferred
    pride = next(i for i in report.items if i.id == "b01")
    assert pride.year == 1813 and pride.genres == ("Romance", "Classics")  # no film bound on years
    assert dict(pride.attributes) == {"author": ["Jane Austen"], "pages": 432,
                                      "description": "Elizabeth Bennet and the proud Mr Darcy misjudge each other."}
    schema = report.schema
    assert schema.noun.en == "book" and schema.role("author") and schema.number("pages").unit.name == "pages"


def test_bad_book_rows_are_reported_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "shelf.csv"
    path.write_text("isbn,book_title,pages,author\n111,Emma,474,Jane Austen\n222,Beowulf,about three hundred,"
                    "Anonymous\n333,,120,Nobody\n111,Emma again,300,Jane Austen\n", encoding="utf-8")
    report = import_catalog_file(path)
    assert report.schema.id == "isbn" and report.schema.title == "book_title"  # a library's column names
    assert [i.title for i in report.items] == ["Emma"]
    problems = {(p.row, p.field): p.reason for p in report.problems}
    assert set(problems) == {(2, "pages"), (3, "book_title"), (4, "isbn")}
    assert "'about three hundred' is not a number of pages" in problems[(2, "pages")]
    assert "repeats the id of row 1" in problems[(4, "isbn")]


def test_a_schema_naming_a_missing_column_is_refused_before_anything_changes(books_csv: Path, tmp_path: Path) -> None:
    schema_path = tmp_path / "my.schema.yaml"
    schema_path.write_text("name: books\nnoun: {en: book, en_plural: books, zh: 书, measure_zh: 本, verb_en: read, "
                           "verb_en_past: read, verb_zh: 读}\nid: id\ntitle: title\nnumbers:\n  page_count: {unit: pages}\n",
                           encoding="utf-8")
    with pytest.raises(CatalogError, match="field 'page_count' \\(number\\).*Columns found: id, title, year"):
        import_catalog_file(books_csv, load_schema(schema_path))


def test_the_operator_imports_edits_the_schema_and_imports_again(
        books_csv: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TASTEBUD_DATA_DIR", str(data_dir))
    monkeypatch.setenv("TASTEBUD_CATALOG", "books")
    monkeypatch.delenv("TASTEBUD_CHROMA_URL", raising=False)
    code, out, err = run(capsys, "data", "import", str(books_csv))
    assert code == 0, err
    books_dir = data_dir / "books"
    assert "imported 12 items, rejected 0 rows" in out and "guessed from the columns" in out
    assert "author: author / 作者" in out and (books_dir / SCHEMA_FILE).is_file()
    code, out, err = run(capsys, "search", "", "--where", '{"pages": {"$lt": 300}, "author": "Agatha Christie"}',
                       "--json")
    assert code == 0, err
    assert [r["title"] for r in json.loads(out)] == ["Murder on the Orient Express"]
    # the operator renames the description's label and says it is not to be embedded; the import reads it
    edited = (books_dir / SCHEMA_FILE).read_text(encoding="utf-8").replace("label_en: description", "label_en: blurb")
    (data_dir / "edited.yaml").write_text(edited, encoding="utf-8")
    code, out, err = run(capsys, "data", "import", str(books_csv), "--schema", str(data_dir / "edited.yaml"))
    assert code == 0, err
    assert "guessed" not in out and load_schema(books_dir / SCHEMA_FILE).texts[0].label_en == "blurb"
    code, _, err = run(capsys, "search", "spies", "--where", '{"runtime_min": {"$lt": 90}, "pages": {"$gt": 1}}')
    assert code == 0  # a film field is a field of every catalog (empty here): nothing matches, said in words
    assert "nothing matches" in err


def test_the_real_embedder_finds_books_by_meaning_within_exact_bounds(books_csv: Path, data_dir: Path,
                                                                        embedder) -> None:
    from retrieval.catalog import write_catalog
    from retrieval.schema_file import write_schema

    report = import_catalog_file(books_csv)
    write_catalog(data_dir, report.items, {"source": "test"})
    write_schema(report.schema, data_dir)
    build_index(data_dir, chroma_url=None, embedder=embedder, cache_dir=embed_cache("books"), progress=False)
    searcher = Searcher.open(data_dir, embedder=embedder)
    from retrieval.filters import parse_where
    from retrieval.types import Filters

    short = Filters(where=parse_where({"pages": {"$lt": 300}}, searcher.kinds))
    hits = searcher.search("a detective solves a murder", short, k=3)
    assert all(dict(h.item.attributes)["pages"] < 300 for h in hits)
    assert hits[0].item.title in ("Murder on the Orient Express", "A Study in Scarlet")
    by_author = searcher.search("a book by Jane Austen", Filters(any_of=(("author", ("Jane Austen",)),)), k=5)
    assert {h.item.title for h in by_author} == {"Pride and Prejudice", "Persuasion"}
    assert searcher.search("Jane Austen", k=2)[0].item.title in ("Pride and Prejudice", "Persuasion")
