"""Importing relsynth's dependencies without the cyclic garbage collector's passes over them.

Importing pandas, SciPy, SQLAlchemy, networkx and the rest builds about 200,000 objects the
collector tracks (``gc.get_freeze_count()`` after the import), which the process keeps to its
end. With the collector on, the import runs ~300 collections of the youngest generation and two
of all of them; with it off, the first collection afterwards scans them all instead. Either way
it costs ~0.3 s (a fifth of the import, measured on the 2-core benchmark machine) and frees
nothing. So the imports run with the collector off, and
what they built is then moved out of its reach (:func:`gc.freeze`: every object alive at that
moment is skipped by later collections, and so never freed as cyclic garbage; those objects
are modules, classes and functions that live to the end anyway).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["imports_without_gc"]


@contextlib.contextmanager
def imports_without_gc() -> Iterator[None]:
    """Run the imports inside with the cyclic collector off, then freeze what exists (see the module)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
