"""`tastebud index`, `tastebud search` and `tastebud bench search` as a person runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import retrieval.embeddings
from chatbot.doors.cli import main
from retrieval.catalog import write_catalog
from retrieval.embeddings import FakeEmbedder
from retrieval.filters import item_matches_where
from tests.retrieval.test_search import make_catalog

TASTEBUD = Path(sys.executable).with_name("tastebud")


@pytest.fixture
def cli_data_dir(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir with the hand-made catalog, the CLI pointed at it and given the fake embedder."""
    fake = FakeEmbedder()
    monkeypatch.setattr(retrieval.embeddings, "MiniLMEmbedder", lambda threads=2: fake)
    monkeypatch.setenv("TASTEBUD_DATA_DIR", str(data_dir))
    monkeypatch.delenv("TASTEBUD_CHROMA_URL", raising=False)
    write_catalog(data_dir, make_catalog(), {"source": "test"})
    return data_dir


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_index_then_search_json(cli_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "index")
    assert code == 0 and "60 items (60 embedded now" in out
    code, out, _ = run(capsys, "index")
    assert code == 0 and "current" in out
    code, out, _ = run(capsys, "search", "Toy Story", "-k", "3", "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 3 and rows[0]["title"] == "Toy Story" and rows[0]["id"] == "ml:1"
    assert {"id", "title", "year", "genres", "age_rating", "runtime_min", "score"} <= set(rows[0])
    assert rows[0]["genres"] == ["Animation", "Children", "Comedy"] and rows[0]["score"] > rows[1]["score"]


def test_search_table_and_where_only(cli_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "index")
    code, out, _ = run(capsys, "search", "Scorsese", "-k", "2")
    assert code == 0 and "Goodfellas" in out and "Casino" in out
    where = '{"genres": {"$in": ["Horror", "Documentary"]}, "year": {"$gte": 1990}}'
    code, out, _ = run(capsys, "search", "--where", where, "-k", "50", "--json")
    rows = json.loads(out)
    items = {i.id: i for i in make_catalog()}
    expected = [i for i in items.values() if item_matches_where(i, json.loads(where))]
    assert code == 0 and len(rows) == len(expected) > 0
    assert all(item_matches_where(items[r["id"]], json.loads(where)) for r in rows)


@pytest.mark.parametrize(("argv", "words"), [
    (["search", "x", "--where", '{"year": {"$gte": 2000,}}'], ["not valid JSON", "line 1", "column"]),
    (["search", "x", "--where", '{"director": "Scorsese"}'], ["unknown field 'director'", "directors", "people"]),
    (["search", "x", "--where", '{"year": {"$gte": "abc"}}'], ["year", "number"]),
    (["search", ""], ["say what you are looking for"]),
    (["search", "x", "-k", "0"], ["k must be"]),
])
def test_bad_input_exits_2_with_a_message(cli_data_dir: Path, capsys: pytest.CaptureFixture[str],
                                          argv: list[str], words: list[str]) -> None:
    run(capsys, "index")
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    for word in words:
        assert word in err


def test_search_without_index_says_to_build_it(cli_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "search", "Toy Story")
    assert code == 2 and "tastebud index" in err


def test_index_without_catalog_says_to_build_it(data_dir: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEBUD_DATA_DIR", str(data_dir))
    code, _, err = run(capsys, "index")
    assert code == 2 and "tastebud data build" in err


@pytest.mark.slow
def test_bench_search_json_has_every_figure(cli_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "index")
    code, out, _ = run(capsys, "bench", "search", "--json", "--size", "3000", "--queries", "15")
    assert code == 0
    result = json.loads(out)
    real, syn = result["real"], result["synthetic"][0]
    assert real["n_items"] == 60 and syn["n_items"] == 3000
    for figures in (real["store_search"], syn["store_search"]):
        assert set(figures) >= {"no filter", "year >= 2000"}
        for case in figures.values():
            tb, npy = case["tastebud"], case["numpy"]
            assert tb["p95_ms"] > 0 and npy["p95_ms"] > 0 and tb["n"] >= 10 and case["tastebud_over_numpy_p50"] > 0
            assert tb["recall_at_50"] >= 0.9 and npy["recall_at_50"] == 1.0  # numpy is the exact answer
        assert "chroma_where" in figures["year >= 2000"] and "chroma_where" not in figures["no filter"]
    assert real["embedding_items_per_s"] > 0 and real["query_embedding"]["p50_ms"] > 0
    assert syn["store_build_s"] > 0 and real["hybrid_search_k10"]["no filter"]["p50_ms"] > 0


@pytest.mark.slow
def test_real_cli_in_a_new_process(demo_data_dir: Path) -> None:
    """The installed command, a fresh process, the real demo index and model."""
    env = {**os.environ, "TASTEBUD_DATA_DIR": str(demo_data_dir)}
    env.pop("TASTEBUD_CHROMA_URL", None)
    done = subprocess.run([str(TASTEBUD), "search", "Toy Story", "-k", "3", "--json"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert rows[0]["title"] == "Toy Story" and rows[0]["year"] == 1995
    done = subprocess.run([str(TASTEBUD), "search", "kids", "--where", '{"age_rating": {"$lte": "XX"}}'],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "PG-13" in done.stderr and done.stdout == ""



def test_a_setting_that_does_not_parse_is_named_in_plain_words_and_nothing_runs(cli_data_dir: Path, capsys,
                                                                               monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TASTEBUD_N_ITEMS", "five")
    monkeypatch.setenv("TASTEBUD_DISCOVERY_SLOTS", "-2")
    code, out, err = run(capsys, "search", "a heist film")
    assert code == 2 and out == ""
    assert "TASTEBUD_N_ITEMS='five'" in err and "TASTEBUD_DISCOVERY_SLOTS='-2'" in err
    assert "Traceback" not in err
