"""Per-column overrides from a configuration, applied to freshly sampled rows.

The sampler calls :func:`apply_overrides` on every decoded table (and on every batch of rows it
redraws), before CHECK and UNIQUE constraints are enforced, so the constraints still hold on
the result. Each override is one vectorized operation on the column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from relsynth.config import ColumnOptions, TableOptions, coerce_value
from relsynth.schema.frames import coerce_series
from relsynth.schema.model import Column, Table

__all__ = ["apply_overrides"]


def apply_overrides(frame: pd.DataFrame, table: Table, options: TableOptions | None, rng: np.random.Generator) -> None:
    """Apply ``options.columns`` to ``frame`` (in place); the options were checked against ``table``.

    - ``skip``: the column becomes NULL;
    - ``value``: every row gets it;
    - ``values``: NULLs stay; a list keeps the values in it and replaces the others by uniform
      draws from it; a mapping of weights redraws every value with those frequencies;
    - ``min``/``max``: values outside are clamped to the bound.
    """
    if options is None or len(frame) == 0:
        return
    for name, override in options.columns.items():
        if override.active:
            frame[name] = _overridden(frame[name], table.column(name), override, rng)


def _overridden(s: pd.Series, column: Column, o: ColumnOptions, rng: np.random.Generator) -> pd.Series:
    if o.skip:
        return s.mask(np.ones(len(s), dtype=bool))
    if o.has_value:
        value = coerce_value(o.value, column)
        if value is None:
            return s.mask(np.ones(len(s), dtype=bool))
        return coerce_series(pd.Series([value], dtype=object).repeat(len(s)).set_axis(s.index), column)
    if o.values is not None:
        domain = pd.Series([coerce_value(v, column) for v in o.values], dtype=object)
        typed = coerce_series(domain, column)
        out = coerce_series(s, column).copy()
        outside = out.notna().to_numpy()
        if o.weights is None:  # a plain domain keeps the generated values that are in it
            outside = outside & ~out.isin(typed).to_numpy()
        if outside.any():
            drawn = rng.choice(len(typed), size=int(outside.sum()), p=o.weights)
            out.iloc[np.flatnonzero(outside)] = typed.iloc[drawn].to_numpy()
        return out
    lower = None if o.min is None else coerce_value(o.min, column)
    upper = None if o.max is None else coerce_value(o.max, column)
    return coerce_series(s, column).clip(lower=lower, upper=upper)
