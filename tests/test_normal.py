"""relsynth.transform.normal: SciPy's normal-distribution ufuncs, loaded without scipy/special/__init__.py."""

from __future__ import annotations

import subprocess
import sys

import numpy as np


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_relsynth_starts_without_running_scipy_special_and_leaves_it_importable() -> None:
    """The CLI and the library load the compiled ufuncs only; a later ``import scipy.special`` (a
    user's, scikit-learn's) runs the real package, which holds the very same functions."""
    code = """
import sys
import relsynth.cli, relsynth.api
from relsynth.transform import normal
print('scipy.special' in sys.modules, 'special' in vars(sys.modules['scipy']))
import scipy.special, scipy.stats
print(scipy.special.ndtr is normal.ndtr, scipy.special.ndtri is normal.ndtri, scipy.special.chdtri is normal.chdtri)
print(scipy.special.erf(0.5) == 0.5204998778130465, scipy.stats.norm.ppf(0.3) == normal.ndtri(0.3))
"""
    assert _run(code).split() == ["False", "False", "True", "True", "True", "True", "True"]


def test_an_imported_scipy_special_or_a_running_thread_takes_the_plain_import() -> None:
    already = "import scipy.special, relsynth.transform.normal as n; print(n.ndtr is scipy.special.ndtr)"
    assert _run(already) == "True"
    # Another thread could import scipy.special while the stand-in is in sys.modules: not then.
    threaded = """
import sys, threading
stop = threading.Event()
threading.Thread(target=stop.wait, daemon=True).start()
import relsynth.transform.normal as n
print('scipy.special' in sys.modules, n.ndtr is sys.modules['scipy.special'].ndtr)
stop.set()
"""
    assert _run(threaded).split() == ["True", "True"]


def test_another_scipy_layout_falls_back_to_the_plain_import() -> None:
    """A SciPy whose compiled module cannot load beside a bare package (here: refused once)
    still gives the functions, through the real scipy.special, with nothing half-loaded left."""
    code = """
import sys, importlib.abc
class RefuseOnce(importlib.abc.MetaPathFinder):
    done = False
    def find_spec(self, name, path, target=None):
        if name == 'scipy.special._ufuncs' and not RefuseOnce.done:
            RefuseOnce.done = True
            raise ImportError('not in this layout')
        return None
sys.meta_path.insert(0, RefuseOnce())
import relsynth.transform.normal as n
import scipy.special
print(RefuseOnce.done, n.ndtr is scipy.special.ndtr, n.ndtri(0.975) == scipy.special.ndtri(0.975))
"""
    assert _run(code).split() == ["True", "True", "True"]


def test_the_functions_are_the_normal_distributions() -> None:
    from relsynth.transform.normal import chdtri, ndtr, ndtri

    x = np.array([-3.0, -1.0, 0.0, 1.0, 2.5])
    np.testing.assert_allclose(ndtr(x), [0.0013498980316301, 0.1586552539314571, 0.5, 0.8413447460685429,
                                         0.9937903346742238], rtol=1e-13)
    np.testing.assert_allclose(ndtri(ndtr(x)), x, atol=1e-12)
    assert abs(chdtri(1, 0.05) - 3.841458820694124) < 1e-12
