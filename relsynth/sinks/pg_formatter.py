"""PostgreSQL ``COPY`` text made in a process of its own while this one draws the next rows.

Formatting rows as COPY text (:func:`relsynth.sinks.sql.pg_text`) is pandas and string work
that holds the GIL: 3.0 s of TPC-H SF 0.1's PostgreSQL write, in the process that also draws
the rows. :class:`FormatterProcess` starts this file as a script (``python -I``, with this
process's ``sys.path``), sends it row chunks (pickled frames, ~0.1 s per 100,000 rows against
~0.6 s to format them) and hands back their texts in the order sent, so the caller draws the
next piece while the last one is formatted and COPY'd. The text is the same either way.

A script rather than :mod:`multiprocessing`: its spawn start runs the caller's ``__main__``
again in the child, which an application that calls the library from an unguarded script
would not expect.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
from typing import Any

__all__ = ["FormatterFailed", "FormatterProcess", "serve"]

log = logging.getLogger("relsynth")


class FormatterFailed(Exception):
    """The formatter process did not start or ended early; the message says how."""


def serve(inbox: Any, outbox: Any) -> int:
    """The formatter process: ``("open", sys_path)`` first, answered ``("ready",)`` once
    :func:`~relsynth.sinks.sql.pg_text` is imported; then each ``("text", frame, table)``
    answered ``("text", copy_text, warnings)`` (what the formatting logged, for the caller to
    log again), until the end of input. A failure is answered ``("error", module, class,
    message)`` and ends the process."""
    _, sys_path = pickle.load(inbox)
    sys.path[:] = sys_path
    try:
        from relsynth.sinks.sql import pg_text
    except BaseException as exc:  # noqa: BLE001 - the caller formats here instead
        _reply(outbox, ("error", type(exc).__module__, type(exc).__name__, str(exc)))
        return 1
    warnings: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("relsynth")
    logger.addHandler(handler)
    logger.propagate = False
    _reply(outbox, ("ready",))
    while True:
        try:
            _, frame, table = pickle.load(inbox)
        except EOFError:
            return 0
        try:
            text = pg_text(frame, table)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller
            _reply(outbox, ("error", type(exc).__module__, type(exc).__name__, str(exc)))
            return 1
        _reply(outbox, ("text", text, warnings[:]))
        warnings.clear()


def _reply(outbox: Any, message: tuple) -> None:
    pickle.dump(message, outbox, protocol=pickle.HIGHEST_PROTOCOL)
    outbox.flush()


class FormatterProcess:
    """:func:`~relsynth.sinks.sql.pg_text` in a process of its own.

    Starting returns at once: the process imports relsynth (~1 s) while the caller draws its
    first rows. :meth:`submit` queues a chunk and returns at once (a thread writes it to the
    process); :meth:`result` returns the next text in submission order, waiting for it (a
    thread reads the replies as they come, so the process never waits on this one). A process
    that did not start, failed or died makes :meth:`result` raise :class:`FormatterFailed`
    with what it said, then and at every later call; :attr:`failed` is then set, and chunks
    submitted after it are dropped (the caller makes their text). :meth:`close` ends the process.
    """

    def __init__(self) -> None:
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen([sys.executable, "-I", __file__], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr)
        self._outgoing: queue.Queue[bytes | None] = queue.Queue()
        self._replies: queue.Queue[tuple | None] = queue.Queue()
        self.failed = False  # chunks submitted after a failure are dropped, not queued
        self._outgoing.put(pickle.dumps(("open", list(sys.path))))
        threading.Thread(target=self._send_all, name="relsynth-copy-text-in", daemon=True).start()
        threading.Thread(target=self._receive_all, name="relsynth-copy-text-out", daemon=True).start()

    def submit(self, frame: Any, table: Any) -> None:
        if self.failed:
            return
        self._outgoing.put(pickle.dumps(("text", frame, table), protocol=pickle.HIGHEST_PROTOCOL))

    def result(self) -> str:
        reply = self._replies.get()
        if reply is None or reply[0] != "text":
            self.failed = True
            self._replies.put(reply)  # every later call fails the same way
            raise FormatterFailed(self._why(reply))
        for message in reply[2]:
            log.warning("%s", message)
        return reply[1]

    def close(self) -> None:
        """End the process (chunks not formatted yet are dropped) and wait for it."""
        self.failed = True
        self._outgoing.put(None)
        with contextlib.suppress(OSError):
            self._proc.kill()
        self._proc.wait()
        self._stderr.close()

    def _send_all(self) -> None:
        pipe = self._proc.stdin
        try:
            while (item := self._outgoing.get()) is not None:
                pipe.write(item)
                pipe.flush()
        except OSError:  # the process ended; its reply (or its absence) says why
            self.failed = True
        with contextlib.suppress(OSError):
            pipe.close()

    def _receive_all(self) -> None:
        """The replies, in order, after the ``("ready",)`` that the start sends first; ``None``
        once the output ends."""
        pipe = self._proc.stdout
        try:
            reply = pickle.load(pipe)
            if reply != ("ready",):
                self._replies.put(reply)
                return
            while True:
                self._replies.put(pickle.load(pipe))
        except Exception:  # noqa: BLE001 - the end of the process's output
            self._replies.put(None)
        finally:
            pipe.close()

    def _why(self, reply: tuple | None) -> str:
        if reply is not None and reply[0] == "error":
            return f"the COPY text process failed: {reply[2]}: {reply[3]}"
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=10)
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return f"the COPY text process ended (exit code {self._proc.returncode})" + (f": {lines[-1]}" if lines else "")


if __name__ == "__main__":
    sys.exit(serve(sys.stdin.buffer, sys.stdout.buffer))
