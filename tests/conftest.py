"""Shared fixtures: real databases, each test in a database of its own.

PostgreSQL (127.0.0.1:5432, user postgres) and MariaDB (127.0.0.1:3306, root) run on the
development and CI machines. A test that needs one and cannot connect fails when ``CI=true``
and is skipped with the reason otherwise. Hosts can be changed with RELSYNTH_TEST_PG_URL and
RELSYNTH_TEST_MYSQL_URL (server URLs without a database name).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
PG_SERVER = os.environ.get("RELSYNTH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
MYSQL_SERVER = os.environ.get("RELSYNTH_TEST_MYSQL_URL", "mysql+pymysql://root:@127.0.0.1:3306")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile relsynth's modules to bytecode once, as ``pip install`` does. The tests start
    many ``python -m relsynth`` and worker processes; where PYTHONDONTWRITEBYTECODE is set (as
    on CI) each of them would compile every module from source again (~0.3 s apiece)."""
    import compileall

    import relsynth

    compileall.compile_dir(Path(relsynth.__file__).parent, quiet=1)


def _unavailable(what: str, exc: Exception) -> None:
    reason = f"{what} is not reachable ({type(exc).__name__}: {str(exc).splitlines()[0]})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(reason)


def _fresh_database(server: str, what: str) -> Iterator[str]:
    name = f"rs_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = sa.create_engine(server + ("/postgres" if server.startswith("postgresql") else "/"),
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as exc:  # noqa: BLE001 - any connection failure means "server not here"
        _unavailable(what, exc)
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as conn:
            if server.startswith("postgresql"):
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


#: ``with fresh_database(SERVER, what) as url:`` a new, empty database on a server, dropped at
#: the end (for tests that need several, e.g. one per Hypothesis example).
fresh_database = contextmanager(_fresh_database)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    yield from _fresh_database(PG_SERVER, "PostgreSQL at " + PG_SERVER)


@pytest.fixture
def pg_url2() -> Iterator[str]:
    """A second new PostgreSQL database (for source → target tests)."""
    yield from _fresh_database(PG_SERVER, "PostgreSQL at " + PG_SERVER)


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """URL of a new, empty MariaDB/MySQL database, dropped after the test."""
    yield from _fresh_database(MYSQL_SERVER, "MariaDB at " + MYSQL_SERVER)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a new SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'target.db'}"


@contextmanager
def _no_adbc(engine: sa.Engine) -> Iterator[None]:
    yield None


@contextmanager
def _no_adbc_pg(engine: sa.Engine, conn: sa.Connection) -> Iterator[None]:
    yield None


def require_adbc_driver(module: str) -> None:
    """Import an ADBC driver of relsynth[adbc]; without it the test fails in CI, skips elsewhere."""
    try:
        __import__(module)
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{module} is missing; CI installs relsynth[test], which includes relsynth[adbc]")
        pytest.skip(f'{module} is not installed (pip install "relsynth[adbc]")')


@pytest.fixture(params=["adbc", "sqlite3"])
def sqlite_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each way a SQLite source is read: ADBC's Arrow columns (needs relsynth[adbc]) and
    ``sqlite3``'s rows."""
    if request.param == "adbc":
        require_adbc_driver("adbc_driver_sqlite")
    else:
        from relsynth.schema import reader

        monkeypatch.setattr(reader, "_adbc_sqlite", _no_adbc)
    return request.param


@pytest.fixture(params=["adbc", "copy"])
def pg_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each way a PostgreSQL source is read: ADBC's Arrow columns (needs relsynth[adbc]) and
    psycopg's COPY text."""
    from relsynth.schema import reader

    if request.param == "adbc":
        require_adbc_driver("adbc_driver_postgresql")
    else:
        monkeypatch.setattr(reader, "_adbc_postgresql", _no_adbc_pg)
    return request.param


def dataset(name: str) -> Path:
    """Path of a shared sample database's SQLite file; skips if the shared folder is absent."""
    path = DATASETS / name / f"{name}.sqlite"
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"sample database {path} is missing; CI=true requires ../shared/datasets")
        pytest.skip(f"sample database {path} is not present")
    return path


def load_pg_dump(url: str, name: str) -> None:
    """Load ``../shared/datasets/NAME/NAME.pg_dump.sql`` into the PostgreSQL database at ``url``."""
    path = DATASETS / name / f"{name}.pg_dump.sql"
    if not path.exists():
        pytest.skip(f"sample dump {path} is not present")
    import subprocess

    dbname = url.rsplit("/", 1)[1]
    subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", dbname, "-f", str(path)],
        check=True,
        capture_output=True,
    )
