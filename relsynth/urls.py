"""Database URLs and driver errors, shared by the reader and the writer.

Plain backend names are mapped onto the drivers relsynth installs through its extras:
``postgresql://`` and ``postgres://`` use psycopg 3 (the reader's and the writer's ``COPY`` need
its API, so ``+psycopg2`` URLs are switched to it too), ``mysql://`` and ``mariadb://`` use
PyMySQL, and SQLite URLs stay as they are. Messages show URLs through :func:`mask_url` and driver
errors through :func:`db_error_line`, so a password never reaches a log or a terminal.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from relsynth.errors import ConfigError, MissingExtraError

__all__ = ["SUPPORTED_URLS", "db_error_line", "mask_url", "normalize_url", "require_driver", "same_database"]

#: The URL forms relsynth supports, for the hint at the end of URL errors.
SUPPORTED_URLS = "sqlite:///PATH, postgresql://USER@HOST/DB or mysql://USER@HOST/DB (mariadb:// too)"

# Drivers that cannot serve relsynth's PostgreSQL reads and writes (no psycopg 3 COPY API) but
# reach the same server: URLs naming them are switched to psycopg 3.
_PG_SWITCHED = ("", "psycopg", "psycopg2", "psycopg2cffi")
# Driver module → (package, extra, database) for the pip line of MissingExtraError.
_EXTRAS = {
    "psycopg": ("psycopg", "postgres", "PostgreSQL"),
    "pymysql": ("pymysql", "mysql", "MySQL/MariaDB"),
}


def normalize_url(url: str | sa.URL) -> sa.URL:
    """Parse ``url`` and pick the driver relsynth uses for its database.

    ``postgresql://`` and ``postgres://`` (also with ``+psycopg2``) become
    ``postgresql+psycopg://``; ``mysql://`` and ``mariadb://`` become ``mysql+pymysql://``; other
    URLs, SQLite ones included, are returned as they are.

    Args:
        url: A database URL, as text or a SQLAlchemy URL.

    Returns:
        The parsed URL with its driver chosen.

    Raises:
        ConfigError: The text is not a URL (the message lists the supported forms).
    """
    try:
        parsed = sa.make_url(url)
    except (sa_exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigError(f"cannot parse database URL {mask_url(url)!r}; use {SUPPORTED_URLS}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres") and driver in _PG_SWITCHED:
        return parsed.set(drivername="postgresql+psycopg")
    if backend in ("mysql", "mariadb") and not driver:
        return parsed.set(drivername="mysql+pymysql")
    return parsed


def require_driver(url: str | sa.URL, purpose: str) -> None:
    """Check that the driver module of ``url``'s database can be imported.

    Only the drivers relsynth's extras install are checked; SQLite needs none, and another
    driver named in the URL is left for SQLAlchemy to report.

    Args:
        url: A database URL; it is normalized first (see :func:`normalize_url`).
        purpose: What needs the driver, completed by the database's name: ``"writing to"``
            reads "writing to PostgreSQL needs the 'psycopg' package ...".

    Raises:
        MissingExtraError: The driver is not installed (the message gives the pip line).
        ConfigError: ``url`` cannot be parsed.
    """
    # The driver is read off the text: get_driver_name() would load the dialect, which fails
    # for unknown backends before their own, clearer, error.
    module = normalize_url(url).drivername.partition("+")[2]
    if module not in _EXTRAS:
        return
    package, extra, database = _EXTRAS[module]
    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(package, extra, f"{purpose} {database}") from None


#: Query parameters through which drivers accept a password.
_PASSWORD_PARAMS = ("password", "passwd", "pwd")


def mask_url(url: str | sa.URL | sa.Engine) -> str:
    """Return ``url`` as text with its password replaced by ``***``.

    Args:
        url: A database URL (text or SQLAlchemy URL) or an engine.

    Returns:
        The URL, safe to print or log.
    """
    if isinstance(url, sa.Engine):
        url = url.url
    if not isinstance(url, sa.URL):
        try:
            url = sa.make_url(url)
        except Exception:  # noqa: BLE001 - unparseable text: mask what looks like user:password@
            text = re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", str(url))
            return re.sub(rf"([?&](?:{'|'.join(_PASSWORD_PARAMS)})=)[^&]*", r"\1***", text, flags=re.IGNORECASE)
    secret = [k for k in url.query if k.lower() in _PASSWORD_PARAMS]
    if secret:  # drivers also take the password as a query parameter
        url = url.update_query_dict({k: "***" for k in secret})
        return url.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")
    return url.render_as_string(hide_password=True)


def db_error_line(exc: BaseException, password: object = None) -> str:
    """The driver's message of ``exc`` on one line, fit to end a relsynth error message.

    SQLAlchemy's wrapper (and its background link) is dropped; MySQL ``(code, message)``
    errors read ``message (MySQL error code)``; otherwise the first line is kept, without a
    trailing ``.``/``;`` (callers append ``; hint``), plus a PostgreSQL ``DETAIL:`` line in
    parentheses, since it names the offending key.

    Args:
        exc: A SQLAlchemy ``DBAPIError`` or an error raised by a driver directly.
        password: The connection's password, masked as ``***`` where the driver echoed it.

    Returns:
        One line of text.
    """
    orig = getattr(exc, "orig", None) or exc
    args = tuple(getattr(orig, "args", ()))
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        text = f"{args[1]} (MySQL error {args[0]})"  # PyMySQL / mysqlclient
    else:
        lines = [ln.strip() for ln in str(orig).strip().splitlines() if ln.strip()]
        text = lines[0].rstrip(".;") if lines else type(orig).__name__
        detail = next((ln for ln in lines[1:] if ln.startswith("DETAIL:")), None)
        if detail:
            text = f"{text} ({' '.join(detail.split())})"
    if isinstance(password, str) and password:
        text = text.replace(password, "***")
    return text


# Host names that all reach this machine, and the ports a URL without one connects to.
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0", ""}
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}


def same_database(a: str | sa.URL | sa.Engine, b: str | sa.URL | sa.Engine) -> bool:
    """Whether two URLs (or engines) reach the same database, however they spell it.

    SQLite files are compared as files (relative paths, ``..``, symbolic and hard links);
    server URLs by backend, host (``localhost``, ``127.0.0.1`` and ``::1`` are one), port
    (the default one filled in) and database name. Where the spellings still differ, both
    servers are asked who they are (PostgreSQL: database and postmaster start time; MySQL/MariaDB:
    database, host name, port and data directory), so two names of one host are found too.
    Unparsable or unreachable URLs count as different: the reader and writer report them.

    Args:
        a: A database URL or engine.
        b: Another one.

    Returns:
        True when writing to ``b`` would write to ``a``.
    """
    try:
        ua, ub = (x.url if isinstance(x, sa.Engine) else normalize_url(x) for x in (a, b))
    except Exception:  # noqa: BLE001 - unparsable URLs are reported by the reader/writer
        return False
    backend = ua.get_backend_name()
    if backend != ub.get_backend_name():
        return False
    if backend == "sqlite":
        fa, fb = (u.database or "" for u in (ua, ub))
        if fa in ("", ":memory:") or fb in ("", ":memory:"):
            return False
        pa, pb = Path(fa).expanduser(), Path(fb).expanduser()
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
        return pa.resolve() == pb.resolve()

    def spelled(u: sa.URL) -> tuple[str, int | None, str | None]:
        host = (u.host or "").lower()
        return ("localhost" if host in _LOOPBACK else host, u.port or _DEFAULT_PORTS.get(backend), u.database)

    if spelled(ua) == spelled(ub):
        return True
    if ua.database is not None and ub.database is not None and ua.database != ub.database and backend == "postgresql":
        return False  # PostgreSQL database names are exact: no server question needed
    ids = [_server_identity(x) for x in (a, b)]
    return ids[0] is not None and ids[0] == ids[1]


def _server_identity(target: str | sa.URL | sa.Engine) -> tuple[str, ...] | None:
    """What a server says about itself and the current database, or None when it cannot be asked."""
    queries = {
        "postgresql": "SELECT current_database(), pg_postmaster_start_time()::text",
        "mysql": "SELECT DATABASE(), @@hostname, @@port, @@datadir",
    }
    owned = not isinstance(target, sa.Engine)
    try:
        url = normalize_url(target) if owned else None
        # Read-only like the reader's sessions: this only asks, and it may be asking the source.
        pg = url is not None and url.get_backend_name() == "postgresql"
        args = {"connect_timeout": 10, "options": "-c default_transaction_read_only=on"} if pg else {}
        engine = sa.create_engine(url, connect_args=args) if url is not None else target
    except Exception:  # noqa: BLE001 - unknown driver: reported elsewhere
        return None
    query = queries.get(engine.dialect.name)
    if query is None:
        return None
    try:
        with engine.connect() as conn:
            return tuple(str(v) for v in conn.exec_driver_sql(query).one())
    except Exception:  # noqa: BLE001 - unreachable: the reader/writer reports it
        return None
    finally:
        if owned:
            engine.dispose()
