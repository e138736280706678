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
  so the model learns new values of the column's kind and never the real ones; a column whose
  name says it holds countries or companies (:data:`FAKER_REMAKES`) gets Faker's countries
  (codes where the source has codes) or company names instead, none a source value: northwind's
  suppliers come from 'Bhutan', not 'Bzwrtto'.

A category equal to a personal value of the database, compared case-insensitively (a
composer called like a customer, a state named like a customer's city), is rewritten the
same way, however many rows hold it: no real personal value reaches the output by another column.

Labels of a lookup table that holds no personal data (the 8 departments' names, 25 genres,
each value its own row's name) are the data's vocabulary, not anyone's attribute, and are kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from relsynth.schema.model import Column, Table
from relsynth.transform.encoders import TextGenerator
from relsynth.transform.pii import DEFAULT_LOCALE, faker_values, name_tokens

__all__ = ["FAKER_REMAKES", "RARE_CATEGORY_THRESHOLD", "suppress_rare_categories"]

#: Default ``k``: categories held by fewer source rows are not reproduced.
RARE_CATEGORY_THRESHOLD = 5

#: A word of a column's name (the last, or followed only by "name" or "code") → the Faker method
#: that remakes the column where every category is rare (``"country_code"`` instead where the
#: source holds codes of up to 3 letters).
FAKER_REMAKES = {"country": "country", "company": "company"}
#: The most Faker values drawn for one such column.
_REMAKE_DRAWS = 2_000


def suppress_rare_categories(table: Table, frame: pd.DataFrame, k: int, skip: set[str], person_table: bool,
                             rng: np.random.Generator, personal: set[str] = frozenset(),
                             locale: str = DEFAULT_LOCALE) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rewrite the categories fewer than ``k`` rows hold, and personal values, in ``table``'s text columns.

    Args:
        table: The table's schema.
        frame: Its rows (not modified).
        k: The threshold; 0 or 1 keeps every category.
        skip: Columns left alone (keys, FK columns, personal data, free text, typed values).
        person_table: The table holds personal data: its all-distinct columns are rewritten too.
        rng: Random generator.
        personal: The database's personal values (stripped, case-folded): rewritten whatever their count.
        locale: Faker locale of the countries and companies of :data:`FAKER_REMAKES`.

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
            fill = _remade(col, values[is_rare], rng, locale, personal)
            if fill is None:
                fill = TextGenerator.fit([str(v) for v in rare.index], unique=unique).generate(int(is_rare.sum()), rng)
        if out is frame:
            out = frame.copy()
        column = out[col.name].astype(object)
        column[is_rare] = fill
        out[col.name] = column
        changed[col.name] = len(rare)
    return out, changed


def _remade(col: Column, rare: pd.Series, rng: np.random.Generator, locale: str,
            personal: set[str]) -> np.ndarray | None:
    """New values for the rare values ``rare`` of an all-rare column ``col`` whose name says it
    holds countries or companies (:data:`FAKER_REMAKES`), else None: each distinct source value
    becomes its own Faker value, so the column keeps how many rows share a value (29 suppliers
    in 16 countries stay in 16). None is equal to a source value of the column or a personal
    value of the database (``personal``; stripped and case-folded), longer than the column, or
    in another case where the source is upper case; None where Faker gives too few."""
    words = name_tokens(col.name)
    # The kind's word ends the name, or only "name"/"code" follow it: ship_country, company_name,
    # country_code; not company_type or company_size.
    method = next((m for word, m in FAKER_REMAKES.items() if word in words
                   and set(words[words.index(word) + 1:]) <= {"name", "code"}), None)
    if method is None or rare.empty:
        return None
    codes, distinct = pd.factorize(rare.astype(str))
    source = [str(v) for v in distinct]
    if method == "country" and all(len(v.strip()) <= 3 and v.strip().isalpha() for v in source):
        method = "country_code"
    upper = all(v == v.upper() for v in source)
    seen = {v.strip().casefold() for v in source} | set(personal)
    drawn = faker_values(locale, method, min(max(4 * len(source), 200), _REMAKE_DRAWS), rng)
    pool = list(dict.fromkeys(
        v.upper() if upper else v for v in drawn
        if v.strip().casefold() not in seen and (col.length is None or len(v) <= col.length)))
    if len(pool) < len(source):
        return None
    return np.asarray(pool, dtype=object)[rng.permutation(len(pool))[: len(source)]][codes]
