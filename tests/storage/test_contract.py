"""The storage contract: every behaviour of a profile store, run on SQLite and on a real PostgreSQL alike.

Each test takes the `store` (opened through `open_store`, as the app opens it) and the `backend` (to look at
the database from outside the store); conftest runs it once per back end.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from chatbot.profile_schema import (
    InvalidFeedback,
    InvalidText,
    ProfileError,
    SessionStart,
    StoreUnavailable,
    UnknownProfile,
    UnknownSession,
    is_valid_id,
    new_id,
)
from chatbot.storage.migrations import SCHEMA_VERSION
from chatbot.storage.protocol import Store
from retrieval.errors import TastebudError
from tests.storage.backends import Backend

ITEMS = [{"id": "ml:1", "title": "Heat", "note": "a long night in LA"}, {"id": "ml:2", "title": "Up"}]


def fill_profile(store: Store, marker: str) -> tuple[str, list[str]]:
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


def test_session_state_turns_and_feedback_survive_reopening(backend: Backend) -> None:
    store = backend.open()
    assert isinstance(store, Store)
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

    again = backend.open()
    try:
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
    finally:
        again.close()


def test_state_is_replaced_and_text_kept_exactly(store: Store) -> None:
    session = store.new_session(store.new_profile())
    state = json.dumps({"city": "北京", "wishes": ["雨天", "cosy"], "note": 'it\'s "quoted"\n', "emoji": "🎬"},
                       ensure_ascii=False)
    store.save_session_state(session, '{"old": true}')
    store.save_session_state(session, state)
    assert store.load_session_state(session) == state


def test_schema_is_versioned_and_foreign_keys_hold(store: Store, backend: Backend) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    assert backend.execute("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    with pytest.raises(backend.integrity_error):  # a session can exist only for a profile
        backend.execute("INSERT INTO sessions (id, profile_id, created_at, updated_at) VALUES ('s', 'p', 't', 't')")
    profile, sessions = fill_profile(store, "cascade")
    other = store.new_profile()
    with pytest.raises(backend.integrity_error):  # a turn must name the profile that owns its session
        sql = ("INSERT INTO turns (session_id, profile_id, n, user_message, reply, items_json, created_at) "
               "VALUES (?, ?, 9, 'm', 'r', '[]', 't')")
        backend.execute(sql.replace("?", "%s") if backend.kind == "postgres" else sql, (sessions[0], other))
    sql = "DELETE FROM profiles WHERE id = ?"
    backend.execute(sql.replace("?", "%s") if backend.kind == "postgres" else sql, (profile,))  # cascades
    assert backend.rows_mentioning(profile) == {}
    assert backend.rows_mentioning("cascade") == {}


def test_a_database_from_a_newer_version_is_refused(backend: Backend) -> None:
    backend.open().close()
    backend.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(ProfileError, match="newer tastebud") as err:
        backend.open()
    assert "schema 99" in str(err.value) and str(SCHEMA_VERSION) in str(err.value)
    assert backend.execute("SELECT version FROM schema_version") == [(99,)]  # left as it was


def test_an_older_schema_is_migrated_in_order(backend: Backend) -> None:
    backend.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")  # version 0: nothing else yet
    store = backend.open()
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert {"profiles", "sessions", "turns", "feedback"} <= set(backend.tables())
        assert store.has_profile(store.new_profile())
    finally:
        store.close()
    store = backend.open()  # opening again changes nothing
    store.close()
    assert backend.execute("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


# ---------------------------------------------------------------- ids


def test_ids_are_unguessable_and_distinct(store: Store) -> None:
    ids = [new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(len(i) == 22 and is_valid_id(i) for i in ids)  # 16 random bytes = 128 bits
    for position in range(21):  # every position varies: most of the 64 symbols show up over 1000 draws
        assert len({i[position] for i in ids}) > 50
    stored = {store.new_profile() for _ in range(100)}
    assert len(stored) == 100 and all(is_valid_id(i) for i in stored)


@pytest.mark.parametrize("bad", ["", "short", "../../etc/passwd", "a b c d e f g h i j k", "x" * 65, "é" * 20,
                                 "abc'; DROP TABLE profiles; --", 12345678901234567890, None])
def test_invalid_or_unknown_id_gets_a_fresh_profile(store: Store, backend: Backend, bad: object) -> None:
    fresh = store.ensure_profile(bad)  # type: ignore[arg-type]
    assert fresh != bad and is_valid_id(fresh) and store.has_profile(fresh)
    if isinstance(bad, str) and bad:
        assert backend.rows_mentioning(bad) == {}
    assert not is_valid_id(bad)


def test_unknown_ids_are_reported_where_the_caller_needs_to_know(store: Store) -> None:
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


def test_latest_like_or_dislike_wins_and_seen_is_kept_apart(store: Store) -> None:
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


def test_bad_feedback_is_refused_with_a_clear_message_and_nothing_recorded(store: Store) -> None:
    profile = store.new_profile()
    session = store.new_session(profile)
    with pytest.raises(InvalidFeedback, match="like, dislike, seen") as err:
        store.add_feedback(profile, session, "ml:1", "love")
    assert isinstance(err.value, ValueError)
    with pytest.raises(InvalidFeedback, match="item id"):
        store.add_feedback(profile, session, "  ", "like")
    with pytest.raises(InvalidText):
        store.add_feedback(profile, session, "ml:\ud800", "like")
    someone_else = store.new_profile()
    with pytest.raises(UnknownSession):  # a session of another profile cannot carry this profile's feedback
        store.add_feedback(someone_else, session, "ml:1", "like")
    assert store.feedback(profile) == [] and store.feedback(someone_else) == []


# ---------------------------------------------------------------- transactions and text


def test_turn_and_state_land_together_or_not_at_all(store: Store) -> None:
    session = store.new_session(store.new_profile())
    store.record_turn_and_state(session, "first", "one", ITEMS, '{"v": 1}')
    with pytest.raises(ProfileError, match="JSON"):
        store.record_turn_and_state(session, "second", "two", [{"id": "ml:9", "bad": {1, 2}}], '{"v": 2}')
    with pytest.raises(ProfileError, match="state"):  # fails after the turn row was inserted: rolled back
        store.record_turn_and_state(session, "second", "two", ITEMS, {"v": 2})  # type: ignore[arg-type]
    with pytest.raises(InvalidText, match="state"):  # the same, for text no back end can store
        store.record_turn_and_state(session, "second", "two", ITEMS, '{"v": "\ud800"}')
    assert [t.n for t in store.turns(session)] == [1]
    assert store.load_session_state(session) == '{"v": 1}'
    assert store.record_turn_and_state(session, "second", "two", ITEMS, '{"v": 2}') == 2


@pytest.mark.parametrize("message, says", [("comedy \ud800 x", "surrogate"), ("nul \x00 inside", "NUL")])
def test_text_no_back_end_can_store_is_refused_in_words_and_nothing_saved(store: Store, message: str,
                                                                           says: str) -> None:
    session = store.new_session(store.new_profile())
    calls = [lambda: store.record_turn_and_state(session, message, "ok", ITEMS, "{}"),
             lambda: store.record_turn_and_state(session, "ok", message, ITEMS, "{}")]
    if says == "surrogate":  # in the items' JSON a NUL is escaped (\u0000), a lone surrogate is not
        calls.append(lambda: store.record_turn(session, "ok", "ok", [{"id": "ml:1", "title": message}]))
    for call in calls:
        with pytest.raises(InvalidText, match=says) as err:
            call()
        assert isinstance(err.value, ValueError) and isinstance(err.value, ProfileError)
    assert store.turns(session) == []
    # every other character a client can send is kept exactly
    text = "".join(chr(c) for c in range(1, 0x3000) if not 0xD800 <= c <= 0xDFFF) + "😀\U0010FFFF"
    store.record_turn_and_state(session, text, text[::-1], [{"id": "ml:1", "title": text}], json.dumps(text))
    (turn,) = store.turns(session)
    assert turn.user_message == text and turn.reply == text[::-1] and turn.items[0]["title"] == text


@pytest.mark.timeout(60)
def test_a_turn_that_cannot_be_saved_is_a_clear_recoverable_error(backend: Backend) -> None:
    store = backend.impatient_store()
    try:
        session = store.new_session(store.new_profile())
        store.record_turn_and_state(session, "first", "one", ITEMS, '{"v": 1}')
        with backend.holding_write_lock(session):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as err:
                store.record_turn_and_state(session, "second", "two", ITEMS, '{"v": 2}')
            took = time.monotonic() - started
            assert took < 3.0  # the store's bound (0.5 s SQLite busy timeout, 1 s PostgreSQL lock timeout) and a bit
            assert isinstance(err.value, TastebudError)
            message = str(err.value)
            assert "busy" in message and "nothing was saved" in message
            assert str(backend.data_dir) not in message and "/" not in message.replace("://", "")
            assert [t.n for t in store.turns(session)] == [1]  # reads go on meanwhile
        assert store.load_session_state(session) == '{"v": 1}'
        assert store.record_turn_and_state(session, "second", "two", ITEMS, '{"v": 2}') == 2
    finally:
        store.close()


# ---------------------------------------------------------------- created on the first saved turn, owned


def test_first_saved_turn_creates_the_profile_and_session_and_nothing_before(store: Store, backend: Backend) -> None:
    profile, session = new_id(), new_id()  # minted by the caller, stored by nobody yet
    assert not store.has_profile(profile) and store.session_profile(session) is None
    assert backend.execute("SELECT count(*) FROM profiles") == [(0,)]
    with pytest.raises(ProfileError):  # a turn that cannot be saved creates nothing either
        store.record_turn_and_state(session, "hi", "hello", [{"bad": {1}}], "{}", start=SessionStart(profile, True))
    assert backend.execute("SELECT count(*) FROM profiles") == [(0,)]
    n = store.record_turn_and_state(session, "hi", "hello", ITEMS, '{"v": 1}', start=SessionStart(profile, True))
    assert n == 1 and store.session_profile(session) == profile and store.shown(profile) == ["ml:1", "ml:2"]
    # a retry of the same first turn (its answer was lost) does not make a second profile or session
    assert store.record_turn_and_state(session, "hi", "hello", ITEMS, '{"v": 2}',
                                       start=SessionStart(profile, True)) == 2
    assert backend.execute("SELECT count(*) FROM profiles") == [(1,)]
    # a second conversation of the stored profile
    second = new_id()
    store.record_turn_and_state(second, "more", "sure", ITEMS, "{}", start=SessionStart(profile, False))
    assert [s.id for s in store.sessions(profile)] == [session, second]


def test_a_session_cannot_be_started_for_a_forgotten_profile_or_taken_over(store: Store) -> None:
    profile, session = new_id(), new_id()
    store.record_turn_and_state(session, "hi", "hello", ITEMS, "{}", start=SessionStart(profile, True))
    store.delete_profile(profile)
    with pytest.raises(UnknownProfile):  # deleted meanwhile: not silently re-created
        store.record_turn_and_state(new_id(), "hi", "x", ITEMS, "{}", start=SessionStart(profile, False))
    owner = store.new_profile()
    taken = store.new_session(owner)
    with pytest.raises(UnknownSession):  # someone else's session id cannot be adopted by a new profile
        store.record_turn_and_state(taken, "mine now", "no", ITEMS, "{}", start=SessionStart(new_id(), True))
    with pytest.raises(ProfileError, match="new_id"):
        store.record_turn_and_state("not-an-id", "hi", "x", ITEMS, "{}", start=SessionStart(new_id(), True))
    assert store.turns(taken) == [] and store.session_profile(taken) == owner


def test_a_session_answers_only_its_owner(store: Store) -> None:
    alice, bob = store.new_profile(), store.new_profile()
    session = store.new_session(alice)
    store.save_session_state(session, '{"alice": true}')
    assert store.owns_session(alice, session) is True
    assert store.owns_session(bob, session) is False
    assert store.owns_session(None, session) is False and store.owns_session(alice, None) is False
    assert store.owns_session(alice, new_id()) is False and store.owns_session("../x", session) is False
    assert store.owned_session_state(alice, session) == '{"alice": true}'
    for profile, sid in ((bob, session), (alice, new_id()), ("bad id", session)):
        with pytest.raises(UnknownSession, match="for this profile") as err:
            store.owned_session_state(profile, sid)
        assert "alice" not in str(err.value)  # the same answer for "not yours" and "no such session"


# ---------------------------------------------------------------- threads


@pytest.mark.timeout(120)
def test_eight_threads_sharing_one_store_lose_nothing(store: Store) -> None:
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
                store.liked(profile)  # reads interleaved with the writes
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
