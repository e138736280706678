"""One BLAS thread for relsynth's own numpy work.

The matrices relsynth multiplies are narrow (rows × a few dozen dimensions: correlations,
conditional draws), where a second BLAS thread saves little, while OpenBLAS's spinning worker
threads cost much whenever the cores are busy with anything else — measured on the 2-core
machine with other work beside it: ``np.corrcoef`` of 29,246 × 25 scores 30–870 ms with the
default threads against 3–6 ms with one, and the demo's fit + sample 1.9–3.0 s against 1.1 s.
:func:`one_blas_thread` wraps the fitting and sampling entry points; the caller's own setting
is back in force when they return.
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits

__all__ = ["one_blas_thread"]

#: Decorator: the wrapped function runs with BLAS limited to one thread.
one_blas_thread = threadpool_limits.wrap(limits=1, user_api="blas")
