"""Rare categories: values too few rows share to be reproduced verbatim.

A category that fewer than ``k`` rows hold (one customer from Poland, the one "General
Manager") points at those rows; a copy that reproduces it tells who was in the source. Before
fitting, :func:`suppress_rare_categories` rewrites such values in a table's text columns:

- where the column has frequent categories, each rare value becomes one of them, drawn in
  proportion to their frequencies: the output keeps the column's domain (no invented value
  can break a CHECK or an application's list of codes) and the frequent categories' relative
  shares, and the rare mass spreads over them rather than piling onto a single neighbour;
- where every category is rare (eight employees' job titles), the column's values are made
  anew from its character patterns (:class:`~relsynth.transform.encoders.TextGenerator`),
  so the model learns new values of the column's kind and never the real ones.

A category equal to a personal value of the database, compared case-insensitively (a
composer called like a customer, a state named like a customer's city), is rewritten the
same way, however many rows hold it: no real personal value reaches the output by another column.

Labels of a lookup table that holds no personal data (the 8 departments' names, 25 genres,
each value its own row's name) are the data's vocabulary, not anyone's attribute, and are kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from relsynth.schema.model import Table
from relsynth.transform.encoders import TextGenerator

__all__ = ["RARE_CATEGORY_THRESHOLD", "suppress_rare_categories"]

#: Default ``k``: categories held by fewer source rows are not reproduced.
RARE_CATEGORY_THRESHOLD = 5


def suppress_rare_categories(table: Table, frame: pd.DataFrame, k: int, skip: set[str], person_table: bool,
                             rng: np.random.Generator, personal: set[str] = frozenset()
                             ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rewrite the categories fewer than ``k`` rows hold, and personal values, in ``table``'s text columns.

    Args:
        table: The table's schema.
        frame: Its rows (not modified).
        k: The threshold; 0 or 1 keeps every category.
        skip: Columns left alone (keys, FK columns, personal data, free text, typed values).
        person_table: The table holds personal data: its all-distinct columns are rewritten too.
        rng: Random generator.
        personal: The database's personal values (stripped, case-folded): rewritten whatever their count.

    Returns:
        The frame (a copy where anything changed) and, per rewritten column, how many distinct
        rare values it had.
    """
    changed: dict[str, int] = {}
    if (k <= 1 and not personal) or frame.empty:
        return frame, changed
    out = frame
    for col in table.columns:
        if col.kind != "string" or col.name in skip or col.name not in frame:
            continue
        values = frame[col.name]
        counts = values.value_counts(dropna=True)
        is_personal = np.array([str(v).strip().casefold() in personal for v in counts.index], dtype=bool)
        labels = not person_table and counts.size == int(counts.sum())  # a lookup's own names
        rare = counts[is_personal | ((counts < k).to_numpy() & (not labels))]
        if rare.empty:
            continue
        is_rare = values.isin(rare.index).to_numpy()
        frequent = counts.drop(rare.index)
        frequent = frequent[frequent >= k]
        if len(frequent):
            fill = rng.choice(frequent.index.to_numpy(dtype=object), size=int(is_rare.sum()),
                              p=(frequent / frequent.sum()).to_numpy(dtype=np.float64))
        else:
            unique = any(u == [col.name] for u in table.unique_sets)
            fill = TextGenerator.fit([str(v) for v in rare.index], unique=unique).generate(int(is_rare.sum()), rng)
        if out is frame:
            out = frame.copy()
        column = out[col.name].astype(object)
        column[is_rare] = fill
        out[col.name] = column
        changed[col.name] = len(rare)
    return out, changed
