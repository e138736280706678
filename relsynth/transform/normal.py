"""The normal distribution's functions relsynth uses — SciPy's ufuncs ``ndtr`` (the CDF),
``ndtri`` (the quantile function) and ``chdtri`` (the chi-square quantile) — loaded without
running ``scipy/special/__init__.py``.

That file builds SciPy's array-API dispatch for every one of scipy.special's ~300 functions:
``import scipy.special`` took 0.27 s on the 2-core benchmark machine, a tenth of a whole
``relsynth clone`` of the demo database, while the compiled module holding these three loads
in 0.04 s. So, where no other thread is running (another one importing ``scipy.special`` could
see the stand-in) and nothing has imported ``scipy.special`` yet, it is imported as a bare
package: a stand-in module with the real package's path, gone again right after, so a later
``import scipy.special`` (scikit-learn's, the user's) runs the real one, which then takes the
compiled module as loaded (its private submodules are then not attributes of the package, only
entries of ``sys.modules``). Anything unexpected there (another SciPy layout) falls back to the
plain import; the functions, and so every sample, are the same either way.
"""

from __future__ import annotations

import sys
import threading
import types
from typing import Any

__all__ = ["chdtri", "ndtr", "ndtri"]


def _ufuncs() -> Any:
    """``scipy.special._ufuncs``, the cheap way where that is safe, else through ``scipy.special``."""
    if "scipy.special" not in sys.modules and threading.active_count() == 1:
        import scipy

        stand_in = types.ModuleType("scipy.special")
        stand_in.__path__ = [f"{scipy.__path__[0]}/special"]
        sys.modules["scipy.special"] = stand_in
        try:
            from scipy.special import _ufuncs

            return _ufuncs
        except Exception:  # noqa: BLE001, S110 - another layout: the plain import below
            # What did load stays (a failed module is never left in sys.modules); the real
            # package takes it as loaded.
            pass
        finally:
            del sys.modules["scipy.special"]
            if vars(scipy).get("special") is stand_in:  # not getattr: scipy's __getattr__ would import it
                del scipy.special
    import scipy.special

    return scipy.special


_loaded = _ufuncs()
ndtr = _loaded.ndtr
ndtri = _loaded.ndtri
chdtri = _loaded.chdtri
del _loaded
