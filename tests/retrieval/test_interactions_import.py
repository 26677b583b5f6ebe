"""`tastebud data import --interactions`: a shop's or a library's own interaction log beside its catalog.

A like is what the file says it is (a rating high on its own scale, a purchase), rows naming items the catalog
lacks are skipped and counted, bad rows are reported, and the interest model's reader accepts what is written.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from chatbot.doors.cli import main
from ranking.data import load_interactions
from retrieval.errors import CatalogError
from retrieval.interactions_import import import_interactions, write_interactions

BOOK_IDS = {f"b{n:02d}" for n in range(1, 13)}
BOOKS_CSV = Path(__file__).parent.parent / "dialogues" / "data" / "books.csv"


def test_ratings_on_ten_points_dates_unknown_books_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    path.write_text("reader_id;book_id;score;date\n"
                    "r1;b01;9;2024-01-03\nr1;b06;7;2024-02-10\nr1;b04;2;2024-03-01\n"
                    "r2;b99;10;2024-01-05\nr2;b07;eight;2024-01-06\n;b08;10;2024-01-07\nr2;b08;10;2024-01-09\n",
                    encoding="utf-8")
    table, report = import_interactions(path, BOOK_IDS)
    assert report.n_rows == 7 and report.n_kept == 4 and report.unknown_items == 1 and report.n_users == 2
    assert any("'eight' is not a number" in p for p in report.problems) and any("empty" in p for p in report.problems)
    liked = dict(zip(zip(table["user"], table["item"]), table["rating"]))
    assert liked[("r1", "b01")] == 5.0 and liked[("r1", "b06")] == 5.0 and liked[("r1", "b04")] == 1.0
    assert "score of 6 or more" in report.rule  # 60 % of the file's top score (10)
    stamps = dict(zip(zip(table["user"], table["item"]), table["timestamp"]))
    assert stamps[("r1", "b01")] == 1_704_240_000  # 2024-01-03, seconds since 1970 (UTC)


def test_shop_events_purchases_are_likes_returns_dislikes_views_neutral(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"customer_id": "c1", "sku": "b03", "action": "purchase", "ts": 100}\n'
                    '{"customer_id": "c1", "sku": "b05", "action": "view", "ts": 101}\n'
                    '{"customer_id": "c1", "sku": "b10", "action": "return", "ts": 102}\n', encoding="utf-8")
    table, _ = import_interactions(path, BOOK_IDS)
    assert list(table["rating"]) == [5.0, 3.0, 1.0] and list(table["timestamp"]) == [100, 101, 102]


def test_a_file_without_a_user_column_is_refused_in_words(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("who,what\nx,b01\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="no user column: looked for user, user_id"):
        import_interactions(path, BOOK_IDS)
    only_unknown = tmp_path / "unknown.csv"
    only_unknown.write_text("user,item\nu1,zz\n", encoding="utf-8")
    table, report = import_interactions(only_unknown, BOOK_IDS)
    with pytest.raises(CatalogError, match="nothing was written"):
        write_interactions(tmp_path, table)
    assert report.unknown_items == 1


def test_the_operator_imports_a_catalog_with_its_interactions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "loans.csv"
    rows = [f"u{u},b{(u + k) % 12 + 1:02d},{1000 * u + k}" for u in range(30) for k in range(4)]
    log.write_text("user,item,timestamp\n" + "\n".join(rows) + "\nu1,b77,5\n", encoding="utf-8")
    monkeypatch.setenv("TASTEBUD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("TASTEBUD_CATALOG", "books")
    code = main(["data", "import", str(BOOKS_CSV), "--interactions", str(log), "--no-index"])
    out = capsys.readouterr().out
    assert code == 0 and "interactions: 120 of 121 rows kept (30 people); 1 name items the catalog lacks" in out
    stored = load_interactions(tmp_path / "var" / "books")
    assert len(stored) == 120 and set(stored["rating"]) == {5.0}
    assert isinstance(stored, pd.DataFrame) and stored["item"].isin(BOOK_IDS).all()


def test_the_interest_model_learns_an_imported_catalogs_taste(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Import, index and train as the operator would; the agent then ranks with the model and says nothing of
    a missing one."""
    from chatbot.config import Settings
    from chatbot.evaluation.harness import open_agent
    from chatbot.turn.replies import use_catalog

    log = tmp_path / "loans.csv"
    log.write_text("user,item,timestamp\n" + "\n".join(
        f"u{u},b{(u * 7 + k * 3) % 12 + 1:02d},{1000 * u + k}" for u in range(60) for k in range(5)) + "\n",
        encoding="utf-8")
    monkeypatch.setenv("TASTEBUD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("TASTEBUD_CATALOG", "books")
    monkeypatch.delenv("TASTEBUD_CHROMA_URL", raising=False)
    assert main(["data", "import", str(BOOKS_CSV), "--interactions", str(log)]) == 0
    assert main(["train"]) == 0
    assert "interest model saved" in capsys.readouterr().out
    try:
        agent = open_agent(Settings(data_dir=tmp_path / "var", catalog="books", llm="fake", understand_llm="never"),
                           write_notes=False)
        assert agent.scorer is not None
        done = [e for e in agent.respond(None, "a mystery") if e.kind == "done"][-1].payload
        assert done.items and "taste model" not in done.reply
    finally:
        use_catalog(None)
