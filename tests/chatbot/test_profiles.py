"""ProfileStore on real SQLite files: round trips, feedback rules, export, forget-me, concurrency, crashes."""

from __future__ import annotations

import json
import os
import random
import selectors
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from chatbot.profiles import DB_NAME, ProfileStore
from chatbot.profile_schema import InvalidFeedback, ProfileError, UnknownProfile, UnknownSession, is_valid_id, new_id
from retrieval.errors import TastebudError

REPO_ROOT = Path(__file__).resolve().parents[2]
ITEMS = [{"id": "ml:1", "title": "Heat", "note": "a long night in LA"}, {"id": "ml:2", "title": "Up"}]


@pytest.fixture
def store(data_dir: Path):
    """A ProfileStore on this test's own data dir."""
    s = ProfileStore.open(data_dir)
    yield s
    s.close()


def raw_bytes(data_dir: Path) -> bytes:
    """Every byte SQLite keeps on disk for the profile database: the file, its WAL and shared-memory index."""
    return b"".join(p.read_bytes() for p in data_dir.glob(DB_NAME + "*") if p.is_file())


def rows_mentioning(data_dir: Path, value: str) -> dict[str, int]:
    """Count, per table and column, the rows whose column equals `value` (a separate read-only connection)."""
    conn = sqlite3.connect(f"file:{data_dir / DB_NAME}?mode=ro", uri=True)
    try:
        found: dict[str, int] = {}
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for column in [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]:
                (n,) = conn.execute(f'SELECT count(*) FROM {table} WHERE "{column}" = ?', (value,)).fetchone()
                if n:
                    found[f"{table}.{column}"] = n
        return found
    finally:
        conn.close()


def fill_profile(store: ProfileStore, marker: str) -> tuple[str, list[str]]:
    """A profile with two sessions, turns, states and feedback whose texts carry `marker`."""
    profile = store.new_profile()
    sessions = [store.new_session(profile) for _ in range(2)]
    for k, session in enumerate(sessions):
        for turn in range(3):
            store.record_turn_and_state(
                session, f"{marker} message {k}.{turn}", f"{marker} reply {k}.{turn}",
                [{"id": f"ml:{marker}-{k}-{turn}", "title": f"{marker} film"}],
                json.dumps({"marker": marker, "turn": turn}),
            )
        store.add_feedback(profile, session, f"ml:{marker}-{k}-0", "like")
    store.add_feedback(profile, None, f"ml:{marker}-x", "seen")
    return profile, sessions


# ---------------------------------------------------------------- round trips


def test_session_state_turns_and_feedback_survive_reopening(data_dir: Path) -> None:
    store = ProfileStore.open(data_dir)
    profile = store.new_profile()
    session = store.new_session(profile)
    assert store.load_session_state(session) is None
    assert store.record_turn(session, "something cosy", "Try these.", ITEMS) == 1
    n = store.record_turn_and_state(session, "shorter please", "Shorter ones:", ITEMS[1:], '{"runtime_max": 100}')
    assert n == 2
    store.add_feedback(profile, session, "ml:2", "like")
    store.close()
    with pytest.raises(ProfileError, match="closed"):
        store.new_profile()

    with ProfileStore.open(data_dir) as again:
        assert again.session_profile(session) == profile
        assert again.load_session_state(session) == '{"runtime_max": 100}'
        turns = again.turns(session)
        assert [(t.n, t.user_message, t.reply) for t in turns] == [
            (1, "something cosy", "Try these."), (2, "shorter please", "Shorter ones:")]
        assert list(turns[0].items) == ITEMS
        assert again.liked(profile) == ["ml:2"]
        assert again.shown(profile) == ["ml:1", "ml:2"]
        assert [s.id for s in again.sessions(profile)] == [session]
        assert again.sessions(profile)[0].n_turns == 2
        assert again.ensure_profile(profile) == profile
        assert again.integrity_check() == "ok"


def test_state_is_replaced_and_text_kept_exactly(store: ProfileStore) -> None:
    session = store.new_session(store.new_profile())
    state = json.dumps({"city": "北京", "wishes": ["雨天", "cosy"], "note": 'it\'s "quoted"\n'}, ensure_ascii=False)
    store.save_session_state(session, '{"old": true}')
    store.save_session_state(session, state)
    assert store.load_session_state(session) == state


def test_database_is_wal_with_foreign_keys_and_a_schema_version(store: ProfileStore, data_dir: Path) -> None:
    conn = sqlite3.connect(data_dir / DB_NAME, isolation_level=None)  # autocommit: a failed insert holds no lock
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        conn.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(sqlite3.IntegrityError):  # a session can exist only for a profile
            conn.execute("INSERT INTO sessions VALUES (?, ?, 't', 't', NULL)", (new_id(), new_id()))
        profile, sessions = fill_profile(store, "cascade")
        other = store.new_profile()
        with pytest.raises(sqlite3.IntegrityError):  # a turn must name the profile that owns its session
            conn.execute("INSERT INTO turns VALUES (?, ?, 9, 'm', 'r', '[]', 't')", (sessions[0], other))
        with conn:
            conn.execute("DELETE FROM profiles WHERE id = ?", (profile,))
        assert rows_mentioning(data_dir, profile) == {}
    finally:
        conn.close()


# ---------------------------------------------------------------- ids


def test_ids_are_unguessable_and_distinct(store: ProfileStore) -> None:
    ids = [new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(len(i) == 22 and is_valid_id(i) for i in ids)  # 16 random bytes = 128 bits
    # Every position varies: over 1000 draws each of the 21 full base64 positions shows most of the 64 symbols.
    for position in range(21):
        assert len({i[position] for i in ids}) > 50
    stored = {store.new_profile() for _ in range(200)}
    assert len(stored) == 200 and all(is_valid_id(i) for i in stored)


@pytest.mark.parametrize("bad", ["", "short", "../../etc/passwd", "a b c d e f g h i j k", "x" * 65, "é" * 20,
                                 "abc'; DROP TABLE profiles; --", 12345678901234567890, None])
def test_invalid_or_unknown_id_gets_a_fresh_profile(store: ProfileStore, data_dir: Path, bad: object) -> None:
    fresh = store.ensure_profile(bad)  # type: ignore[arg-type]
    assert fresh != bad and is_valid_id(fresh) and store.has_profile(fresh)
    if isinstance(bad, str) and bad:
        assert rows_mentioning(data_dir, bad) == {}
    assert not is_valid_id(bad)


def test_unknown_ids_are_reported_where_the_caller_needs_to_know(store: ProfileStore) -> None:
    unknown = new_id()
    assert store.ensure_profile(unknown) != unknown  # a client cannot choose its own id
    assert not store.has_profile(unknown)
    for call in (store.export_profile, store.profile_summary, store.new_session, store.liked, store.sessions):
        with pytest.raises(UnknownProfile, match="no profile"):
            call(unknown)
    assert store.delete_profile(unknown) is False
    assert store.delete_profile("not an id at all") is False
    assert store.session_profile(unknown) is None and store.load_session_state(unknown) is None
    with pytest.raises(UnknownSession):
        store.save_session_state(unknown, "{}")
    with pytest.raises(UnknownSession):
        store.record_turn(unknown, "hi", "hello", [])
    assert isinstance(UnknownProfile("x"), TastebudError)


# ---------------------------------------------------------------- feedback


def test_latest_like_or_dislike_wins_and_seen_is_kept_apart(store: ProfileStore) -> None:
    profile = store.new_profile()
    session = store.new_session(profile)
    for item, signal in [("ml:1", "like"), ("ml:2", "dislike"), ("ml:3", "like"), ("ml:1", "dislike"),
                         ("ml:2", "like"), ("ml:3", "seen"), ("ml:4", "seen"), ("ml:4", "seen")]:
        store.add_feedback(profile, session, item, signal)
    assert store.disliked(profile) == ["ml:1"]  # like then dislike = disliked
    assert store.liked(profile) == ["ml:3", "ml:2"]  # in the order of each item's latest signal
    assert store.seen(profile) == ["ml:3", "ml:4"]  # seen does not undo the like of ml:3
    summary = store.profile_summary(profile)
    assert summary["counts"] == {"sessions": 1, "turns": 0, "feedback": 8, "liked": 2, "disliked": 1, "seen": 2}
    other = store.new_profile()
    assert store.liked(other) == [] and store.disliked(other) == []


def test_bad_feedback_is_refused_with_a_clear_message_and_nothing_recorded(store: ProfileStore) -> None:
    profile = store.new_profile()
    session = store.new_session(profile)
    with pytest.raises(InvalidFeedback, match="like, dislike, seen") as err:
        store.add_feedback(profile, session, "ml:1", "love")
    assert isinstance(err.value, ValueError)
    with pytest.raises(InvalidFeedback, match="item id"):
        store.add_feedback(profile, session, "  ", "like")
    someone_else = store.new_profile()
    with pytest.raises(UnknownSession):  # a session of another profile cannot carry this profile's feedback
        store.add_feedback(someone_else, session, "ml:1", "like")
    assert store.feedback(profile) == [] and store.feedback(someone_else) == []


# ---------------------------------------------------------------- transactions


def test_turn_and_state_land_together_or_not_at_all(store: ProfileStore) -> None:
    session = store.new_session(store.new_profile())
    store.record_turn_and_state(session, "first", "one", ITEMS, '{"v": 1}')
    with pytest.raises(ProfileError, match="JSON"):
        store.record_turn_and_state(session, "second", "two", [{"id": "ml:9", "bad": {1, 2}}], '{"v": 2}')
    with pytest.raises(ProfileError, match="state"):  # fails after the turn row was inserted: rolled back
        store.record_turn_and_state(session, "second", "two", ITEMS, {"v": 2})  # type: ignore[arg-type]
    assert [t.n for t in store.turns(session)] == [1]
    assert store.load_session_state(session) == '{"v": 1}'
    assert store.record_turn_and_state(session, "second", "two", ITEMS, '{"v": 2}') == 2


# ---------------------------------------------------------------- export and forget-me


def test_export_contains_everything_about_the_profile_and_nothing_else(store: ProfileStore) -> None:
    profile, sessions = fill_profile(store, "mine")
    fill_profile(store, "theirs")
    exported = json.loads(json.dumps(store.export_profile(profile)))  # JSON-ready all the way down
    assert exported["profile"]["id"] == profile
    assert [s["id"] for s in exported["sessions"]] == sessions
    for k, s in enumerate(exported["sessions"]):
        assert json.loads(s["state_json"]) == {"marker": "mine", "turn": 2}
        assert [(t["n"], t["user_message"], t["reply"]) for t in s["turns"]] == [
            (n + 1, f"mine message {k}.{n}", f"mine reply {k}.{n}") for n in range(3)]
        assert s["turns"][0]["items"] == [{"id": f"ml:mine-{k}-0", "title": "mine film"}]
    assert [(f["item_id"], f["signal"]) for f in exported["feedback"]] == [
        ("ml:mine-0-0", "like"), ("ml:mine-1-0", "like"), ("ml:mine-x", "seen")]
    assert "theirs" not in json.dumps(exported)


def test_delete_leaves_no_trace_of_the_profile_on_disk_and_keeps_others(store: ProfileStore, data_dir: Path) -> None:
    # Enough other profiles that every table and index spans several b-tree pages.
    others = [fill_profile(store, f"keep{i:03d}") for i in range(120)]
    target, target_sessions = fill_profile(store, "ForgetMeMarker")
    more = fill_profile(store, "keepafter")
    before = {p: store.export_profile(p) for p, _ in (others[0], others[-1], more)}
    for needle in [target, *target_sessions, "ForgetMeMarker"]:
        assert needle.encode() in raw_bytes(data_dir)  # it was on disk (file or WAL) before

    assert store.delete_profile(target) is True

    for needle in [target, *target_sessions]:
        assert rows_mentioning(data_dir, needle) == {}
    assert b"ForgetMeMarker" not in raw_bytes(data_dir)
    for needle in [target, *target_sessions]:
        assert needle.encode() not in raw_bytes(data_dir), "deleted id still in the database or WAL bytes"
    assert (data_dir / (DB_NAME + "-wal")).stat().st_size == 0
    with pytest.raises(UnknownProfile):
        store.export_profile(target)
    assert store.delete_profile(target) is False
    for p, exported in before.items():
        now = store.export_profile(p)
        assert {k: v for k, v in now.items() if k != "exported_at"} == {
            k: v for k, v in exported.items() if k != "exported_at"}
    assert store.integrity_check() == "ok"


# ---------------------------------------------------------------- concurrency and crashes


@pytest.mark.timeout(120)
def test_eight_threads_sharing_one_store_lose_nothing(store: ProfileStore) -> None:
    profile = store.new_profile()
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            session = store.new_session(profile)
            for i in range(50):
                if i % 2:
                    store.add_feedback(profile, session, f"ml:{k}-{i}", "like")
                else:
                    store.record_turn_and_state(session, f"t{k}-{i}", "r", [{"id": f"ml:{k}-{i}"}], json.dumps(i))
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads) and errors == []
    assert len(store.liked(profile)) == 8 * 25
    sessions = store.sessions(profile)
    assert len(sessions) == 8
    for s in sessions:
        assert [t.n for t in store.turns(s.id)] == list(range(1, 26))
        assert s.state_json == "48"


@pytest.mark.timeout(180)
def test_eight_connections_appending_to_one_session_lose_nothing(data_dir: Path) -> None:
    with ProfileStore.open(data_dir) as setup:
        session = setup.new_session(setup.new_profile())
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            with ProfileStore.open(data_dir) as own:  # its own connection: SQLite's file locks arbitrate
                for i in range(50):
                    own.record_turn(session, f"{k}:{i}", "r", [])
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and errors == []
    with ProfileStore.open(data_dir) as check:
        turns = check.turns(session)
    assert [t.n for t in turns] == list(range(1, 401))
    assert sorted(t.user_message for t in turns) == sorted(f"{k}:{i}" for k in range(8) for i in range(50))


CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from chatbot.profiles import ProfileStore
    store = ProfileStore.open(Path(sys.argv[1]))
    session = sys.argv[2] if len(sys.argv) > 2 else store.new_session(store.new_profile())
    print("session", session, flush=True)
    n = len(store.turns(session))
    padding = "x" * 20000  # big enough that a write spans several pages
    while True:
        n = store.record_turn_and_state(session, f"message {n + 1} " + padding, f"reply {n + 1}",
                                        [{"id": f"ml:{n + 1}"}], json.dumps({"turn": n + 1}))
        print(n, flush=True)
    """
)


def _run_and_kill(data_dir: Path, session: str | None, commits: int) -> tuple[str, int]:
    """Start a writer process, SIGKILL it after `commits` confirmed commits; return (session, last confirmed)."""
    args = [sys.executable, "-c", CHILD, str(data_dir)] + ([session] if session else [])
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT)
    last, deadline = 0, time.monotonic() + 60
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        while last < commits and time.monotonic() < deadline:
            if not sel.select(timeout=1.0):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("session"):
                session = line.split()[1]
            else:
                last = int(line)
        time.sleep(random.uniform(0, 0.02))  # land the kill at a random point of a write, not just after a print
        proc.send_signal(signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
    finally:
        sel.close()
        if proc.poll() is None:
            proc.kill()
    assert last >= commits, f"the writer did not get going: {err[-2000:]}"
    assert proc.returncode == -signal.SIGKILL
    for line in rest.splitlines():  # commits confirmed between the last read and the kill
        last = int(line)
    assert session is not None
    return session, last


@pytest.mark.timeout(240)
def test_a_writer_killed_mid_write_loses_at_most_the_turn_in_flight(data_dir: Path) -> None:
    session = None
    for commits in (40, 25, 60, 10, 30, 20, 50, 15):  # kill it again and again, appending to the same session
        session, confirmed = _run_and_kill(data_dir, session, commits)
        with ProfileStore.open(data_dir) as store:
            assert store.integrity_check() == "ok"
            turns = store.turns(session)
            numbers = [t.n for t in turns]
            assert numbers == list(range(1, len(numbers) + 1))  # no gap, no duplicate
            assert len(numbers) in (confirmed, confirmed + 1)  # every confirmed commit, plus maybe the in-flight one
            assert all(t.user_message.startswith(f"message {t.n} ") and t.reply == f"reply {t.n}" for t in turns)
            # the state always matches the last turn: they were written in one transaction
            assert json.loads(store.load_session_state(session) or "null") == {"turn": len(numbers)}


# ---------------------------------------------------------------- files that are not ours


def test_a_file_that_is_not_a_database_is_refused_and_left_untouched(data_dir: Path) -> None:
    path = data_dir / DB_NAME
    garbage = b"these are someone's notes, not SQLite\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(ProfileError, match="not a usable tastebud profile database"):
        ProfileStore.open(data_dir)
    assert path.read_bytes() == garbage


def test_a_database_from_a_newer_version_is_refused(data_dir: Path) -> None:
    ProfileStore.open(data_dir).close()
    conn = sqlite3.connect(data_dir / DB_NAME)
    with conn:
        conn.execute("UPDATE schema_version SET version = 99")
    conn.close()
    with pytest.raises(ProfileError, match="newer tastebud"):
        ProfileStore.open(data_dir)
