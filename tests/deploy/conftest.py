"""Fixtures of the deployment tests: PostgreSQL, a Chroma server with a real catalog in it, one LLM server and
`tastebud serve` workers, every one a real process on 127.0.0.1, every wait bounded, every process killed after.

The catalog is the most-rated films of the real demo catalog, embedded with the packaged MiniLM model into the
Chroma server by the project's own `build_index(..., chroma_url=...)`. Its vectors come from a private copy of the
shared embedding cache, so this build never evicts other catalogs from the shared one.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import embed_cache
from tests.deploy.processes import BIN, Deployment, LLMServer, ServerProcess
from tests.postgres import PostgresCluster, find_bindir, free_port

N_FILMS = 1500  # the most-rated demo films: 90s comedies, older ones, long and short ones
CHROMA_START_S = 60.0
LLM_START_S = 120.0


def in_ci() -> bool:
    """True on a CI runner (CI=true), where the PostgreSQL tests must run, never skip."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def deploy_postgres(request: pytest.FixtureRequest) -> PostgresCluster:
    """The session's PostgreSQL cluster; a skip without the server binaries, a failure when that happens in CI."""
    if find_bindir() is None and in_ci():
        pytest.fail("CI=true but the PostgreSQL server binaries (initdb, pg_ctl) are missing: `make test-deps` "
                    "installs Debian's postgresql package")
    return request.getfixturevalue("postgres_cluster")


@pytest.fixture(scope="session")
def deploy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the deployment's servers keep their files and logs."""
    return tmp_path_factory.mktemp("deploy")


@pytest.fixture(scope="session")
def chroma_url(deploy_root: Path) -> Iterator[str]:
    """`chroma run` on a free port of 127.0.0.1, answering its heartbeat."""
    port = free_port()
    server = ServerProcess("chroma", [str(BIN / "chroma"), "run", "--path", str(deploy_root / "chroma"),
                                      "--host", "127.0.0.1", "--port", str(port)], deploy_root / "logs" / "chroma.log")
    try:
        url = f"http://127.0.0.1:{port}"
        server.wait_for_url(f"{url}/api/v2/heartbeat", CHROMA_START_S)
        yield url
    finally:
        server.kill()


@pytest.fixture(scope="session")
def catalog_dir(deploy_root: Path, chroma_url: str, embedder) -> Path:
    """A data dir with the demo's N_FILMS most-rated films, its index's vectors in the Chroma server."""
    from retrieval.catalog import load_catalog, read_meta, write_catalog
    from retrieval.search import build_index
    from retrieval.sources import build_demo_catalog

    demo = deploy_root / "demo"
    build_demo_catalog(demo, progress=False)
    films = sorted(load_catalog(demo), key=lambda it: (-it.n_ratings, it.id))[:N_FILMS]
    data_dir = deploy_root / "data"
    write_catalog(data_dir, films, {**read_meta(demo), "source": "demo (most-rated films)"})
    shutil.rmtree(demo)
    cache = deploy_root / "embcache"
    cache.mkdir()
    for shared in embed_cache("films").glob("embcache-*.npz"):  # a private copy: this build may prune it freely
        shutil.copy(shared, cache / shared.name)
    report = build_index(data_dir, chroma_url=chroma_url, embedder=embedder, cache_dir=cache, progress=False)
    assert report.n_items == N_FILMS and chroma_url in report.location, report
    return data_dir


def llm_data_dir() -> Path:
    """Where the embedded model's GGUF is assembled once: TASTEBUD_TEST_LLM_DIR, else the repo's var/ (as the
    other real-LLM tests do), never a copy per session."""
    return Path(os.environ.get("TASTEBUD_TEST_LLM_DIR", Path(__file__).resolve().parents[2] / "var"))


def printed_setting(log: str, name: str) -> str | None:
    """The value of a `NAME=value` line the LLM server printed, or None."""
    found = [line.split("=", 1)[1].strip() for line in log.splitlines() if line.startswith(f"{name}=")]
    return found[-1] if found else None


@pytest.fixture(scope="module")
def llm_server(deploy_root: Path) -> Iterator[LLMServer]:
    """`tastebud llm-server` (the embedded 1.5B model over the OpenAI API) on a free port of 127.0.0.1."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASTEBUD_")}
    env.update({"TASTEBUD_DATA_DIR": str(llm_data_dir()), "TASTEBUD_THREADS": "2"})
    server = ServerProcess("llm-server", [str(BIN / "tastebud"), "llm-server", "--host", "127.0.0.1",
                                          "--port", str(port)], deploy_root / "logs" / f"llm-{port}.log", env)
    try:
        # ready once it printed the settings to use (after /health answered)
        server.wait_until(lambda: printed_setting(server.log(), "TASTEBUD_OPENAI_MODEL") is not None, LLM_START_S)
        base_url = printed_setting(server.log(), "TASTEBUD_OPENAI_BASE_URL")
        assert base_url == f"http://127.0.0.1:{port}/v1", server.log()
        server.wait_for_url(f"http://127.0.0.1:{port}/health", LLM_START_S)
        yield LLMServer(base_url, printed_setting(server.log(), "TASTEBUD_OPENAI_MODEL") or "", server.kill)
    finally:
        server.kill()


def worker_env(data_dir: Path, database_url: str, chroma_url: str, llm: LLMServer) -> dict[str, str]:
    """The environment of one `tastebud serve` worker: shared database, Chroma server and LLM server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASTEBUD_")}
    env.update({
        "TASTEBUD_DATA_DIR": str(data_dir),
        "TASTEBUD_DATABASE_URL": database_url,
        "TASTEBUD_CHROMA_URL": chroma_url,
        "TASTEBUD_LLM": "openai",
        "TASTEBUD_OPENAI_BASE_URL": llm.base_url,
        "TASTEBUD_OPENAI_MODEL": llm.model,
        "TASTEBUD_HOST": "127.0.0.1",
        "TASTEBUD_THREADS": "1",  # two workers and the LLM server share two cores
        # the notes are written by the LLM server, one after another: held to 10 s a turn (the default 30 s took each
        # turn to it on a slow machine); what is asserted here is the conversation across workers, not the notes
        "TASTEBUD_NOTES_BUDGET_S": "10",
        "TASTEBUD_RATE_LIMIT": "10000/minute",  # every request of the test comes from 127.0.0.1
        "TASTEBUD_WEATHER_URL": f"http://127.0.0.1:{free_port()}/v1/forecast",  # no weather: nothing listens
        "HF_HUB_OFFLINE": "1",
    })
    return env


@pytest.fixture(scope="module")
def deployment(deploy_postgres: PostgresCluster, deploy_root: Path, chroma_url: str, catalog_dir: Path,
               llm_server: LLMServer) -> Iterator[Deployment]:
    """Workers A and B, started side by side, over a fresh database of their own."""
    logs = deploy_root / "logs" / secrets.token_hex(3)
    with deploy_postgres.database() as (dbname, url):
        env = worker_env(catalog_dir, url, chroma_url, llm_server)
        deploy = Deployment(deploy_postgres, dbname, url, llm_server, env, logs)
        try:
            deploy.start("A", "B")
            yield deploy
        finally:
            deploy.stop_all()
