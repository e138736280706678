"""The SQLite end of a load: statements and row batches run on one ``sqlite3`` connection, in
this process or in a writer process of its own.

SQLite has one writer, and ``executemany`` holds the GIL while it binds each row, so a thread
cannot overlap it with drawing the next rows. A process can: :class:`WriterProcess` starts
this file as a script under a bare interpreter (``python -I -S``; it imports only the standard
library and NumPy, not relsynth or pandas, so it is up in ~0.1 s) and feeds it pickled
messages over a pipe while the caller draws the next piece. The pipe holds one message, so
memory stays bounded: the caller waits when the writer is a piece behind.

Rows travel column-wise in a compact *wire* form (see :func:`column_values`): numbers as NumPy
arrays plus a NULL mask, texts as one NUL-joined string, dates and datetimes as
``datetime64`` arrays, anything else as an object array of Python values. The Python values
``executemany`` binds are made from it on the writer's side.
"""

from __future__ import annotations

import contextlib
import pickle
import queue
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
from typing import Any

__all__ = [
    "CheckViolation",
    "ForeignKeyViolation",
    "SQLiteSession",
    "WriterFailed",
    "WriterProcess",
    "column_values",
    "serve",
]


class ForeignKeyViolation(Exception):
    """Rows without a parent at COMMIT (deferred foreign keys, or those checked before it); the message says which."""


class CheckViolation(Exception):
    """Rows breaking a CHECK constraint at COMMIT (those counted set-wise); the message says which."""


class WriterFailed(Exception):
    """The writer process failed other than with a ``sqlite3`` error; the message says how."""


def column_values(wire: tuple) -> list | Any:
    """The Python values (``None`` for NULL) of one wire column, for ``executemany``: a list
    (``executemany`` walks lists fastest), or the given object array.

    Forms: ``("objects", values)`` already Python values; ``("numbers", array, mask)``;
    ``("texts", joined, mask, n)`` the ``n`` present values joined by NUL; ``("coded", joined,
    codes, mask)`` the present values as positions in the distinct ones, joined; ``("dates", array,
    mask, unit)`` ``datetime64`` values written as ISO text to ``unit`` (``D``: ``2024-01-31``,
    ``us``: ``2024-01-31 12:00:00.000000``, the forms SQLAlchemy stores in SQLite). ``mask`` is
    None or a boolean array marking the NULLs.
    """
    import numpy as np

    form = wire[0]
    if form == "objects":
        return wire[1]
    if form in ("texts", "coded"):
        if form == "texts":
            _, joined, mask, n = wire
            present = joined.split("\x00") if n else []
        else:
            _, joined, codes, mask = wire
            present = np.array(joined.split("\x00") if codes.size else [], dtype=object)[codes]
            if mask is None:
                return present.tolist()
        if mask is None:
            return present
        values = np.empty(len(mask), dtype=object)
        values[~mask] = present
        return values.tolist()
    if form == "numbers":
        values, mask = wire[1].tolist(), wire[2]
    elif form == "dates":
        _, array, mask, unit = wire
        texts = np.datetime_as_string(array, unit=unit)
        if unit != "D" and texts.size:  # NumPy's replace fails on an empty array (an all-NULL column)
            texts = np.strings.replace(texts, "T", " ")
        values = texts.tolist()
    else:
        raise ValueError(f"unknown wire form {form!r}")
    if mask is not None:
        for i in np.flatnonzero(mask).tolist():
            values[i] = None
    return values


def _regexp(pattern: str | None, value: str | None) -> bool | None:
    """``value REGEXP pattern`` as SQLAlchemy's pysqlite dialect defines it on its connections."""
    if value is None or pattern is None:
        return None
    return re.search(pattern, value) is not None


class SQLiteSession:
    """Statements and row batches on one ``sqlite3`` connection in autocommit mode (the
    caller's statements include ``BEGIN``); :meth:`commit` words a deferred-FK failure.
    ``step`` says what a call does, for the error message (see :class:`WriterProcess`)."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self.cur = con.cursor()

    def execute(self, step: str, sql: str) -> None:
        self.cur.execute(sql)

    def insert(self, step: str, sql: str, columns: list[tuple]) -> None:
        self.cur.executemany(sql, zip(*(column_values(c) for c in columns)))

    def commit(self, step: str, check: list[str] | tuple[str, ...] = (),
               counted: list[tuple[str, list[str], str]] | tuple = ()) -> None:
        """COMMIT, after ``PRAGMA foreign_key_check`` of the tables in ``check`` (quoted names:
        those loaded with the connection's foreign keys off) finds no row without its parent,
        and each query of ``counted`` (``(table, constraints, query)``: the rows breaking each of
        a table's CHECK constraints, loaded with them ignored) counts none."""
        missing = [row for table in check for row in self.cur.execute(f"PRAGMA foreign_key_check({table})").fetchall()]
        if missing:
            raise ForeignKeyViolation(self._fk_summary(missing))
        broken = [f"{n} row(s) of {table!r} break CHECK {constraint}"
                  for table, constraints, query in counted
                  for constraint, n in zip(constraints, self.cur.execute(query).fetchone()) if n]
        if broken:
            raise CheckViolation(", ".join(broken))
        try:
            self.cur.execute("COMMIT")
        except sqlite3.IntegrityError:
            raise ForeignKeyViolation(self._fk_summary()) from None

    def rollback(self) -> None:
        if self.con.in_transaction:
            self.cur.execute("ROLLBACK")

    def _fk_summary(self, rows: list[tuple] | None = None) -> str:
        try:
            rows = self.cur.execute("PRAGMA foreign_key_check").fetchall() if rows is None else rows
        except Exception:  # noqa: BLE001 - only used to word the error
            return "see relsynth.sinks.verify_integrity"
        per: dict[tuple[str, str], int] = {}
        for table, _rowid, parent, _fkid in rows:
            per[(table, parent)] = per.get((table, parent), 0) + 1
        return (", ".join(f"{n} row(s) of {t!r} without a parent in {p!r}" for (t, p), n in per.items())
                or "unknown rows")


def serve(inbox: Any, outbox: Any) -> int:
    """The writer process: read messages from ``inbox`` until ``commit`` or the end of input.

    Messages (pickled tuples): first ``("open", "starting", path, sys_path)``, answered with
    ``("ready",)`` once connected, then ``("execute", step, sql)`` and ``("insert", step, sql,
    columns)``, last ``("commit", step, tables to check, CHECK counts)``. One more reply is
    pickled to ``outbox``: ``("ok",)`` after COMMIT, or at the first failure (after which the
    transaction is rolled back and nothing more is read) ``("error", step, module, class,
    message)``. The end of input before ``commit`` rolls back without a reply.
    """
    _, _, path, sys_path = pickle.load(inbox)
    sys.path[:] = sys_path
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    con.create_function("regexp", 2, _regexp, deterministic=True)
    session = SQLiteSession(con)
    pickle.dump(("ready",), outbox)
    outbox.flush()
    step = "starting"
    try:
        while True:
            try:
                message = pickle.load(inbox)
            except EOFError:
                return 0
            kind, step = message[0], message[1]
            if kind == "execute":
                session.execute(*message[1:])
            elif kind == "insert":
                session.insert(*message[1:])
            elif kind == "commit":
                session.commit(*message[1:])
                pickle.dump(("ok",), outbox)
                outbox.flush()
                return 0
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
        cls = type(exc)
        pickle.dump(("error", step, cls.__module__, cls.__name__, str(exc)), outbox)
        outbox.flush()
        return 1
    finally:
        session.rollback()
        con.close()


#: Messages (row batches of up to ``CHUNK_ROWS`` rows) that may wait for the writer process:
#: how far the caller may run ahead of it.
QUEUED_MESSAGES = 4


class WriterProcess:
    """A :class:`SQLiteSession` on the file ``path`` in a process of its own.

    The same calls (with the step each belongs to, for the error message), pickled into a
    queue of :data:`QUEUED_MESSAGES` that a thread writes to the process's input (the write
    blocks without the GIL), so the caller goes on drawing while the writer inserts. A
    failure is raised in this process as the writer met it (a ``sqlite3`` error of the same
    class and text, :class:`ForeignKeyViolation`, :class:`CheckViolation`, or
    :class:`WriterFailed`), with :attr:`failed_step` set, at the next call after it. :meth:`close` ends the process and,
    before a :meth:`commit`, rolls the transaction back. Starting raises :class:`WriterFailed`
    when the process does not come up connected to ``path``.
    """

    def __init__(self, path: str) -> None:
        self.failed_step: str | None = None
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen([sys.executable, "-I", "-S", __file__], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr)
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=QUEUED_MESSAGES)
        self._broken: str | None = None  # the step of the message the pipe broke on
        self._aborted = False
        self._sender = threading.Thread(target=self._send_all, name="relsynth-sqlite-writer", daemon=True)
        self._sender.start()
        self._send(("open", "starting", path, list(sys.path)))
        if self._reply() != ("ready",):  # the script did not run, or cannot open the file
            self._proc.kill()
            self.close()
            raise WriterFailed("the writer process did not start")

    def execute(self, step: str, sql: str) -> None:
        self._send(("execute", step, sql))

    def insert(self, step: str, sql: str, columns: list[tuple]) -> None:
        self._send(("insert", step, sql, columns))

    def commit(self, step: str, check: list[str] | tuple[str, ...] = (),
               counted: list[tuple[str, list[str], str]] | tuple = ()) -> None:
        self._send(("commit", step, list(check), list(counted)))
        self._finish_input()
        reply = self._reply()
        if reply != ("ok",):
            self._raise(reply, self._broken or step)

    def close(self) -> None:
        """End the process (the end of its input rolls back an uncommitted transaction, and
        batches still queued are dropped) and wait for it."""
        self._aborted = True
        self._finish_input()
        self._proc.wait()
        self._proc.stdout.close()
        self._stderr.close()

    def _send(self, message: tuple) -> None:
        if self._broken is not None:
            self._finish_input()
            self._raise(self._reply(), self._broken)
        self._queue.put((message[1], pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)))

    def _send_all(self) -> None:
        """The thread: queued messages to the process's input until ``None``; after a broken
        pipe or :meth:`close`, the rest are taken and dropped, so no caller waits on a full queue."""
        pipe = self._proc.stdin
        while (item := self._queue.get()) is not None:
            if self._broken is None and not self._aborted:
                try:
                    pipe.write(item[1])
                    pipe.flush()
                except (BrokenPipeError, OSError):
                    self._broken = item[0]
        with contextlib.suppress(BrokenPipeError, OSError):
            pipe.close()

    def _finish_input(self) -> None:
        if self._sender.is_alive():
            self._queue.put(None)
            self._sender.join()

    def _reply(self) -> tuple | None:
        try:
            return pickle.load(self._proc.stdout)
        except Exception:  # noqa: BLE001 - no reply: the process died; its stderr says why
            return None

    def _raise(self, reply: tuple | None, step: str) -> None:
        if reply is None:
            self._proc.wait()
            self._stderr.seek(0)
            lines = self._stderr.read().decode(errors="replace").strip().splitlines()
            self.failed_step = step
            raise WriterFailed(f"the writer process ended (exit code {self._proc.returncode})"
                               + (f": {lines[-1]}" if lines else ""))
        _, self.failed_step, module, name, text = reply
        if module == "sqlite3" and isinstance(getattr(sqlite3, name, None), type):
            raise getattr(sqlite3, name)(text)
        if name == ForeignKeyViolation.__name__:
            raise ForeignKeyViolation(text)
        if name == CheckViolation.__name__:
            raise CheckViolation(text)
        raise WriterFailed(f"{name}: {text}")


if __name__ == "__main__":
    sys.exit(serve(sys.stdin.buffer, sys.stdout.buffer))
