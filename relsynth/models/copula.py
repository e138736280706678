"""Per-table Gaussian copula, conditioned on the parent row.

Every modeled column becomes one or two standard-normal *dimensions* (its value, and a NULL
indicator where the column has NULLs). A table's dimensions also include one *count* dimension
per child relationship it drives (children per row), so the number of children follows the
row's attributes. A child table's copula is fitted over ``[parent dims | own dims]`` on child
rows joined to their parent rows; sampling then draws the child's own dims from the Gaussian
conditional given the synthetic parent's dims (Schur complement), for all children of all
parents in one matrix product.

A categorical column whose frequencies follow a numeric of its row in a way one latent score
cannot carry (a step: Medicare from age 65 on) is encoded per bin of that numeric
(:class:`~relsynth.transform.encoders.ConditionalCategoricalEncoder`) and decoded after it.

Date/datetime columns that are never earlier than a NOT NULL date of the parent row or of an
earlier column of the same row are encoded as the (non-negative) offset from it, so the order
holds in every generated row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from relsynth.errors import ModelError
from relsynth.models.conditioning import LatentBounds, rows_of, truncated_gaussian
from relsynth.models.neural import NeuralModel
from relsynth.schema.frames import numeric_values
from relsynth.schema.model import Column, Table
from relsynth.transform.encoders import (
    UUID_RE,
    BinaryGenerator,
    CategoricalEncoder,
    Codes,
    ConditionalCategoricalEncoder,
    ConditionalNumericEncoder,
    NumericEncoder,
    QuantileBins,
    TextGenerator,
    UuidGenerator,
    association_ranks,
    correlation_ratio,
    cramers_v,
    group_sums,
    level_positions,
    plain_value,
    quantile_edges,
    rows_equal,
    to_normal,
)
from relsynth.transform.keys import distinct_ints, rows_covered
from relsynth.transform.native import NATIVE_GENERATORS, NativeGenerator, fit_native, generated_style
from relsynth.transform.normal import ndtr, ndtri
from relsynth.transform.pii import DEFAULT_LOCALE, PiiColumn, PiiGenerator, PoolCache

__all__ = ["ColumnFacts", "ColumnModel", "ParentContext", "TableModel", "Role", "TEXT_DISTINCT_RATIO", "TEXT_MIN_DISTINCT",
           "is_free_text", "stratify"]

Role = Literal["key", "fk", "copula", "derived", "text", "uuid", "binary", "native", "pii", "null"]

#: A string column whose distinct share is above this (with enough distinct values) is treated as
#: free text (generated from patterns) rather than as a category (learned, values reproduced).
TEXT_DISTINCT_RATIO = 0.5
TEXT_MIN_DISTINCT = 20
#: Ridge added to the context block before solving, for rank-deficient parents.
_RIDGE = 1e-6
#: A numeric column gets per-category marginals when a category explains this share of its rank variance.
GIVEN_MIN_ETA2 = 0.6
#: Categorical columns with more categories than this are not used as "given" or derivation sources.
MAX_GIVEN_CATEGORIES = 100
#: A categorical column gets per-bin frequencies of a numeric of its row when the bias-corrected
#: Cramér's V of the two (numeric in 10 quantile bins) is at least this.
CONDITION_MIN_V = 0.2
#: ... and when the copula alone would be off their 2-way table by this much (total variation, beyond noise).
CONDITION_MIN_GAP = 0.1
#: A children-per-row count gets a marginal per category only where the category explains this
#: share of its rank variance ...
COUNT_GIVEN_MIN_ETA2 = 0.01
#: ... and the copula alone would be off their 2-way table by this much (total variation, beyond noise).
COUNT_MIN_GAP = 0.05
#: A parent column may set a child category's frequencies only with this many parents per bin.
GIVEN_MIN_PARENTS = 5
#: Fewest rows of a category for it to get its own correlation matrix.
SPLIT_MIN_ROWS = 50
_NUMERIC_KINDS = {"integer", "float", "decimal", "date", "datetime", "time"}
_TEMPORAL = {"date", "datetime"}


@dataclass
class ColumnModel:
    """How one column is produced.

    Attributes:
        name: Column name.
        kind: The column's logical kind.
        role: ``key`` (new unique key), ``fk`` (filled from parent keys by the sampler), ``copula``
            (learned, one value dim plus a NULL dim if needed), ``text``/``uuid``/``binary``
            (generated, never learned), ``native`` (many distinct JSON documents, arrays,
            tsvectors, network addresses, ... from :mod:`relsynth.transform.native`), ``pii``
            (personal data, made by :class:`~relsynth.transform.pii.PiiGenerator`), ``null``
            (always NULL in the source).
        generator: Key/text/uuid/binary generator state, by role.
        null_rate: Share of NULLs for generated roles.
        offset_ref: For copula dates: ``"parent:<col>"`` or ``"self:<col>"`` the value is an offset from.
        after: For copula dates not tied closely enough to such a reference for an offset (an
            order date and the hire date of the employee who took it): the reference the value
            is encoded without but never earlier than (raised to it where it would be).
        key_start: First integer of an integer key sequence.
        key_scope: ``global`` (unique in the table), ``parent`` (numbered within each parent) or
            ``group`` (numbered within each combination of the other primary-key columns).
        given: For copula numerics: the categorical column whose categories have their own
            marginals; for copula categoricals: the numeric column in whose bins the categories
            have their own frequencies, or ``parent:<column>``, a column of the driver parent;
            for ``derived`` columns: the source column.
        mapping: For ``derived`` columns: ``[[source value, value], ...]`` of the column named by ``given``.
    """

    name: str
    kind: str
    role: Role
    generator: TextGenerator | UuidGenerator | BinaryGenerator | NativeGenerator | PiiGenerator | None = None
    null_rate: float = 0.0
    offset_ref: str | None = None
    after: str | None = None
    key_start: int = 1
    given: str | None = None
    mapping: list[list[Any]] | None = None
    key_scope: str = "global"

    @property
    def value_dim(self) -> str:
        return f"value:{self.name}"

    @property
    def null_dim(self) -> str:
        return f"null:{self.name}"

    def to_state(self) -> dict[str, Any]:
        gen = None
        if self.generator is not None:
            gen = {"type": type(self.generator).__name__, "state": self.generator.to_state()}
        return {
            "name": self.name,
            "kind": self.kind,
            "role": self.role,
            "generator": gen,
            "null_rate": self.null_rate,
            "offset_ref": self.offset_ref,
            "after": self.after,
            "key_start": self.key_start,
            "given": self.given,
            "mapping": self.mapping,
            "key_scope": self.key_scope,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ColumnModel:
        gen = state.get("generator")
        generator = None
        if gen is not None:
            types = {c.__name__: c for c in (TextGenerator, UuidGenerator, BinaryGenerator, PiiGenerator)} | NATIVE_GENERATORS
            generator = types[gen["type"]].from_state(gen["state"])
        return cls(**{**state, "generator": generator})


@dataclass
class TableModel:
    """A fitted table: column roles, dimension encoders and the copula correlation.

    Attributes:
        name: Table name.
        n_rows: Rows in the training data.
        n_unparented: Training rows whose driver FK is NULL (generated without a parent).
        n_parent_rows: Rows of the driver parent in the training data.
        columns: One :class:`ColumnModel` per column, in table order.
        dims: Names of the table's own dimensions.
        encoders: Encoder of each own dimension.
        context: Names of the parent's dimensions this table is conditioned on.
        corr: Correlation of ``context + dims`` normal scores.
        split: Categorical column with a correlation matrix per category (``split_corr``, over
            ``context + dims`` without the split's own dims), or None.
        neural: The neural synthesizer drawing the dims instead of the copula
            (:mod:`relsynth.models.neural`), or None. The encoders, the count dims and
            everything done with the drawn scores are the same either way.
    """

    name: str
    n_rows: int
    columns: list[ColumnModel]
    dims: list[str]
    encoders: dict[str, NumericEncoder | CategoricalEncoder]
    context: list[str] = field(default_factory=list)
    corr: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    n_unparented: int = 0
    n_parent_rows: int = 0
    split: str | None = None
    split_categories: list[Any] = field(default_factory=list)
    split_corr: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    count_givens: dict[str, str] = field(default_factory=dict)
    neural: NeuralModel | None = None

    @property
    def synthesizer(self) -> str:
        """``neural`` or ``copula``: what draws this table's dims."""
        return "copula" if self.neural is None else "neural"

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        table: Table,
        frame: pd.DataFrame,
        rng: np.random.Generator,
        *,
        fk_columns: set[str],
        counts: dict[str, np.ndarray] | None = None,
        parent: ParentContext | None = None,
        driver_columns: list[str] = (),
        pii: dict[str, PiiColumn] | None = None,
        locale: str = DEFAULT_LOCALE,
        min_count: int = 5,
        pii_avoid: tuple[int, np.ndarray] | None = None,
        facts: ColumnFacts | None = None,
    ) -> tuple[TableModel, np.ndarray]:
        """Fit one table.

        Args:
            table: The table's schema.
            frame: Its rows, in the frame convention.
            rng: Random generator (the distributional transform uses it).
            fk_columns: Columns filled from parent keys (not learned).
            counts: Children per row for each relationship this table drives, by dim name.
            parent: The driver parent's training dims and frame, with each row's parent row.
            driver_columns: The driver FK's columns (composite keys are numbered within them).
            pii: Columns holding personal data (:func:`~relsynth.transform.pii.detect_pii`):
                generated, never learned.
            locale: Faker locale of the personal data.
            min_count: Fewest source rows an email domain needs to be kept.
            pii_avoid: Fingerprints of the database's personal values
                (:func:`~relsynth.transform.pii.personal_fingerprints`), none of which a
                generated one may equal.
            facts: ``frame``'s :class:`ColumnFacts`, where the caller keeps them for the
                table's children (:attr:`ParentContext.facts`).

        Returns:
            The model and the table's own normal scores (rows × dims), the context of its children.
        """
        n = len(frame)
        dims: list[str] = []
        encoders: dict[str, Any] = {}
        scores: list[np.ndarray] = []
        key_cols = _key_columns(table, fk_columns, driver_columns)
        unique_single = {u[0] for u in table.unique_sets if len(u) == 1}
        offsets = _choose_offsets(table, frame, parent)
        facts = facts if facts is not None else ColumnFacts(frame)

        def add_dim(name: str, enc: Any, z: np.ndarray) -> None:
            dims.append(name)
            encoders[name] = enc
            scores.append(z)

        # 1. Roles: what is filled by the sampler, generated, derived, or learned by the copula.
        models: dict[str, ColumnModel] = {}
        for col in table.columns:
            series = frame[col.name]
            n_valid = int(facts.present(col.name).sum())
            if col.name in fk_columns:
                models[col.name] = ColumnModel(col.name, col.kind, "fk")
            elif col.name in key_cols:
                models[col.name] = _key_model(col, series[facts.present(col.name)], key_cols[col.name])
            elif n_valid == 0:
                models[col.name] = ColumnModel(col.name, col.kind, "null", null_rate=1.0)
            elif col.name in (pii or {}):
                gen = PiiGenerator.fit(pii[col.name].kind, series, locale=locale, unique=col.name in unique_single,
                                       max_length=col.length, sources=_email_sources(pii, col.name),
                                       min_count=min_count, rng=rng, avoid=pii_avoid)
                models[col.name] = ColumnModel(col.name, col.kind, "pii", gen, null_rate=1.0 - n_valid / n,
                                               given=_copied_from_parent(series, parent, unique_single, col.name))
            elif (role := _generated_role(col, series, n_valid, facts)) is not None:
                values = series[facts.present(col.name)].to_numpy()
                if role == "uuid":
                    gen: Any = UuidGenerator.fit(values)
                elif role == "binary":
                    gen = BinaryGenerator.fit(list(values), rng)
                elif role == "native":
                    style = generated_style(col.kind, col.native_type, col.element_kind)
                    gen = fit_native(str(style), col.element_kind, values, rng)
                else:
                    gen = TextGenerator.fit(values, unique=col.name in unique_single)
                models[col.name] = ColumnModel(col.name, col.kind, role, gen, null_rate=1.0 - n_valid / n)
            else:
                ref, tied = offsets.get(col.name, (None, False))
                models[col.name] = ColumnModel(col.name, col.kind, "copula", offset_ref=ref if tied else None,
                                               after=None if tied else ref)
        categorical = [c.name for c in table.columns
                       if models[c.name].role == "copula" and c.kind not in _NUMERIC_KINDS]
        _find_derived(frame, categorical, models, unique_single, facts)
        sources = [c for c in categorical if models[c].role == "copula"
                   and 2 <= facts.distinct(c) <= MAX_GIVEN_CATEGORIES]
        coded = {c: facts.codes(c) for c in sources}

        # 2. Copula dims, in column order.
        numbers: dict[str, np.ndarray] = {}  # plain numerics (NaN where NULL): what categories may follow
        for col in table.columns:
            cm = models[col.name]
            if cm.role != "copula":
                continue
            series = frame[col.name]
            notna = facts.present(col.name)
            n_valid = int(notna.sum())
            values = series[notna]
            z = np.zeros(n)
            z_valid: np.ndarray
            if col.kind in _NUMERIC_KINDS:
                x = to_number(values, col.kind)
                if cm.offset_ref is not None:
                    x = x - _reference_numbers(cm.offset_ref, col.kind, frame, parent)[notna]
                integer = col.kind in ("integer", "date") or _whole_seconds(col.kind, x)
                decimals = col.scale if col.kind == "decimal" else None
                cm.given = None if cm.offset_ref else _best_given(x, {c: codes[notna] for c, codes in coded.items()})
                if cm.given is not None:
                    enc, z_valid = ConditionalNumericEncoder.fit_transform(x, coded[cm.given][notna], rng, integer,
                                                                           decimals)
                else:
                    enc, z_valid = NumericEncoder.fit_transform(x, rng, integer=integer, decimals=decimals)
                    if cm.offset_ref is None:
                        numbers[col.name] = np.full(n, np.nan)
                        numbers[col.name][notna] = x
            else:
                enc, z_valid = CategoricalEncoder.fit_transform(facts.codes(col.name)[notna], rng)
            # NULL rows get independent noise: keeps the dim standard normal without inventing
            # a correlation; the NULL dim carries where NULLs fall.
            z[notna] = z_valid
            z[~notna] = rng.standard_normal(n - n_valid)
            add_dim(cm.value_dim, enc, z)
            if n_valid < n:
                nenc, nz = NumericEncoder.fit_transform((~notna).astype(np.float64), rng, integer=True)
                add_dim(cm.null_dim, nenc, nz)
        columns = [models[c.name] for c in table.columns]

        for name, c in (counts or {}).items():
            enc, z = NumericEncoder.fit_transform(c.astype(np.float64), rng, integer=True)
            add_dim(name, enc, z)

        own = np.column_stack(scores) if scores else np.zeros((n, 0))
        model = cls(table.name, n, columns, dims, encoders)
        rows = np.arange(n)
        context = None
        if parent is not None:
            has_parent = parent.rows >= 0
            model.context = list(parent.dims)
            model.n_parent_rows = len(parent.frame)
            model.n_unparented = int((~has_parent).sum())
            rows = np.flatnonzero(has_parent)
            context = parent.z[parent.rows[rows]]
        model._order_categories(own, rows, context, rng, facts)
        model._condition_counts(own, counts or {}, coded, rng)
        model._condition_categories(frame, own, rows, context, rng, numbers, unique_single, facts, parent)
        joint = own if context is None else np.hstack([context, own[rows]])
        model.corr = _correlation(joint)
        model._fit_split(frame.iloc[rows] if len(rows) != n else frame, joint)
        return model, own

    def _order_categories(self, own: np.ndarray, rows: np.ndarray, context: np.ndarray | None,
                          rng: np.random.Generator, facts: ColumnFacts) -> None:
        """Re-encode each categorical dim with its categories ordered along what they go with.

        For every category, the mean normal score of every other dim (the parent's included) over
        its rows; the categories are then placed by their projection on the leading principal
        direction of those means (weighted by category size) — the one ordering under which the
        copula's correlations carry the most of the category's association with the rest (as in
        optimal scaling). Two-category columns are left as they are: either order is monotone.
        """
        if own.shape[1] < 2 or len(rows) < 10:
            return
        others = own[rows] if context is None else np.hstack([context, own[rows]])
        k = 0 if context is None else context.shape[1]
        for j, dim in enumerate(self.dims):
            enc = self.encoders[dim]
            if not isinstance(enc, CategoricalEncoder) or len(enc.categories) < 3:
                continue
            name = dim.split(":", 1)[1]
            position = _positions(facts.codes(name)[rows], np.delete(others, k + j, axis=1))
            if position is None:
                continue
            present = facts.present(name)
            new_enc, z = CategoricalEncoder.fit_transform(facts.codes(name)[present], rng, position)
            self.encoders[dim] = new_enc
            own[present, j] = z

    def _condition_counts(self, own: np.ndarray, counts: dict[str, np.ndarray],
                          sources: dict[str, Codes], rng: np.random.Generator) -> None:
        """Give a children-per-row count its own marginal per category of the row where the copula
        cannot follow the category (treatments per patient by diagnosis: fewest for pneumonia,
        in the middle of the diagnoses' order).

        The category is the one whose 2-way table with the count the copula misses most, by
        :data:`COUNT_MIN_GAP` at least beyond noise (as in :meth:`_condition_categories`), among
        those explaining :data:`COUNT_GIVEN_MIN_ETA2` of its rank variance and with a category
        of ``ConditionalNumericEncoder.min_rows`` rows. The count's score becomes its rank within
        the category; what else it follows (the patient's age) goes through the copula as before.
        (Plain numerics keep the stricter :data:`GIVEN_MIN_ETA2`: conditioned on a category by
        this rule, age took its marginal from insurance and lost its tie to the counts.)
        """
        big_enough = [name for name, coded in sources.items()
                      if np.bincount(coded.codes[coded.codes >= 0], minlength=1).max() >= ConditionalNumericEncoder.min_rows]
        for dim, c in counts.items():
            j = self.dims.index(dim)
            x = c.astype(np.float64)
            best: tuple[float, str | None] = (COUNT_MIN_GAP, None)
            ranks = association_ranks(x) if big_enough and x.size >= 2 else None
            for name in big_enough:
                if correlation_ratio(x, sources[name], ranks) < COUNT_GIVEN_MIN_ETA2:
                    continue
                z_c = own[:, self.dims.index(f"value:{name}")]
                gap = _copula_gap(sources[name], x, z_c, own[:, j], self.encoders[f"value:{name}"])
                if gap >= best[0]:
                    best = (gap, name)
            if best[1] is not None:
                self.encoders[dim], own[:, j] = ConditionalNumericEncoder.fit_transform(x, sources[best[1]], rng,
                                                                                         integer=True)
                self.count_givens[dim] = best[1]

    def _condition_categories(self, frame: pd.DataFrame, own: np.ndarray, rows: np.ndarray,
                              context: np.ndarray | None, rng: np.random.Generator,
                              numbers: dict[str, np.ndarray], unique: set[str], facts: ColumnFacts,
                              parent: ParentContext | None = None) -> None:
        """Encode categories per bin of a numeric of the row, or of a parent column, where the
        copula cannot follow it.

        A copula carries a category's dependence on a numeric through one latent score, so a
        step (Medicare from age 65 on), a bump or a category in the middle comes out smoothed;
        a category that follows another category (a treatment's drug, its patient's diagnosis)
        is off in most cells of their table. A category qualifies when it is not UNIQUE and has
        at most :data:`MAX_GIVEN_CATEGORIES` categories; one that numerics take their marginals
        from is decoded before them, so only a parent column can be its given. Its given
        (:meth:`_given_candidates`) is the
        most associated one (bias-corrected Cramér's V, at least :data:`CONDITION_MIN_V`) among
        those the copula misses: the 2-way table the copula implies is off the real one by
        :data:`CONDITION_MIN_GAP` in total variation beyond sampling noise. The categories keep
        one order in every bin, by what they go with once the bins are accounted for (every
        other dim less its bin means).
        """
        candidates = self._given_candidates(own, numbers, parent)
        if not candidates or len(rows) < 10:
            return
        givens = {c.given for c in self.columns if c.role == "copula" and c.kind in _NUMERIC_KINDS and c.given}
        others = own[rows] if context is None else np.hstack([context, own[rows]])
        k = 0 if context is None else context.shape[1]
        binned: dict[str, QuantileBins] = {}  # each candidate cut once, for every category
        for cm in self.columns:
            if cm.role != "copula" or cm.kind in _NUMERIC_KINDS or cm.given or cm.name in unique:
                continue
            present = facts.present(cm.name)
            n_distinct = facts.distinct(cm.name)
            too_few = present.sum() < 2 * ConditionalCategoricalEncoder.min_rows
            if too_few or not 2 <= n_distinct <= MAX_GIVEN_CATEGORIES:
                continue
            j = self.dims.index(cm.value_dim)
            best: tuple[float, str | None] = (CONDITION_MIN_V, None)
            coded = facts.codes(cm.name)
            for name, (x, z_x, _) in candidates.items():
                if cm.name in givens and name in numbers:
                    continue  # numerics follow this category: it is decoded before them
                if name not in binned:
                    binned[name] = QuantileBins.of(x)
                v = cramers_v(coded, binned[name])
                if v < best[0]:
                    continue
                gap = _copula_gap(coded, x, own[:, j], z_x, self.encoders[cm.value_dim])
                if gap >= CONDITION_MIN_GAP:
                    best = (v, name)
            if best[1] is None:
                continue
            x, _, levels = candidates[best[1]]
            enc, _ = ConditionalCategoricalEncoder.fit_transform(coded[present], x[present], rng, levels=levels)
            position = None
            if n_distinct >= 3:
                # What the categories go with within the bins: other dims less their bin means.
                rest = np.delete(others, k + j, axis=1)
                b = enc.bins(x[rows])
                size = np.bincount(b, minlength=enc.cum.shape[0]).astype(np.float64)
                sums = group_sums(b, rest, enc.cum.shape[0])
                position = _positions(coded[rows], rest - (sums / np.maximum(size, 1.0)[:, None])[b])
            enc, z = ConditionalCategoricalEncoder.fit_transform(coded[present], x[present], rng, position, levels,
                                                                 enc.edges)
            cm.given = best[1]
            self.encoders[cm.value_dim] = enc
            own[present, j] = z

    def _given_candidates(self, own: np.ndarray, numbers: dict[str, np.ndarray],
                          parent: ParentContext | None) -> dict[str, tuple[np.ndarray, np.ndarray, list[Any] | None]]:
        """What a category may be encoded per bin of, as ``(numbers, normal scores, levels)``
        aligned with the rows: each of ``numbers`` (the row's plain numerics, decoded first from
        nothing; NaN where NULL), and each learned numeric or categorical column of the driver
        parent, named ``parent:<column>`` (NaN for rows without a parent; a categorical as its
        categories' positions in the parent's order, the ``levels``).

        A parent column qualifies only where its bins can each hold the children of
        :data:`GIVEN_MIN_PARENTS` parents: in a lookup table of 8 departments every name, floor
        or bed count is one department, whose case mix says nothing about a synthetic
        department that has that name but another's size."""
        out = {name: (x, own[:, self.dims.index(f"value:{name}")], None) for name, x in numbers.items()}
        if parent is None:
            return out
        linked = parent.rows >= 0
        at = np.where(linked, parent.rows, 0)
        n_parents = rows_covered(parent.rows)
        for j, dim in enumerate(parent.dims):
            role, _, name = dim.partition(":")
            enc = parent.encoders.get(dim)
            if role != "value" or enc is None:
                continue
            levels = None
            if isinstance(enc, (CategoricalEncoder, ConditionalCategoricalEncoder)):
                if not 2 <= len(enc.categories) <= MAX_GIVEN_CATEGORIES:
                    continue
                levels = list(enc.categories)
                x = level_positions(levels, parent.facts.codes(name) if parent.facts is not None else parent.frame[name])
            else:
                x = numeric_values(parent.frame[name])
            n_distinct = np.unique(x[~np.isnan(x)]).size
            if n_distinct == 0 or n_parents < GIVEN_MIN_PARENTS * min(n_distinct, ConditionalCategoricalEncoder.max_bins):
                continue
            out[f"parent:{name}"] = (np.where(linked, x[at], np.nan), np.where(linked, parent.z[at, j], 0.0), levels)
        return out

    def _fit_split(self, frame: pd.DataFrame, joint: np.ndarray) -> None:
        """One correlation per category of the column most numerics take their marginal from.

        Within "lab test = glucose" the value follows BMI, within "hemoglobin" it does not; one
        matrix would average the two. Categories too small for a stable matrix use the global one.
        """
        givens = [c.given for c in self.columns if c.role == "copula" and c.given and c.kind in _NUMERIC_KINDS]
        if not givens:
            return
        split = max(set(givens), key=lambda g: (givens.count(g), -givens.index(g)))
        keep = self._split_keep(split)
        m = len(keep)
        # NULL as None: pd.NA == cat would be NA, which numpy cannot turn into a bool.
        labels = frame[split].to_numpy(dtype=object, na_value=None)
        cats, mats = [], []
        categories = self.encoders[f"value:{split}"].categories
        for cat, rows in zip(categories, rows_equal(labels, categories)):
            if rows.size >= max(SPLIT_MIN_ROWS, 3 * m):
                cats.append(cat)
                mats.append(_correlation(joint[rows][:, keep]))
        if cats:
            self.split, self.split_categories, self.split_corr = split, cats, np.stack(mats)

    def _split_keep(self, split: str) -> np.ndarray:
        """Indices of ``context + dims`` used by the per-category matrices (all but the split's dims)."""
        k = len(self.context)
        drop = {k + i for i, d in enumerate(self.dims) if d in (f"value:{split}", f"null:{split}")}
        return np.array([i for i in range(k + len(self.dims)) if i not in drop], dtype=np.int64)

    # ----------------------------------------------------------------- sampling
    def sample_scores(self, context: np.ndarray | None, n_free: int, rng: np.random.Generator,
                      parent_frame: pd.DataFrame | None = None, bounds: LatentBounds | None = None) -> np.ndarray:
        """Draw own normal scores: one row per context row (conditional), then ``n_free`` unconditioned rows.

        ``parent_frame`` (the synthetic parent row of each output row, as in :meth:`decode`) is
        needed when the split category's frequencies follow a parent column. ``bounds``
        (:mod:`relsynth.models.conditioning`, rows as the output's) keeps dims within intervals:
        the draw is the copula conditioned on them (targeted generation).
        """
        k = len(self.context)
        ctx = context if context is not None else np.zeros((0, k))
        if self.neural is not None:
            return self.neural.sample(ctx, n_free, rng, bounds, self.category_edges(parent_frame, ctx.shape[0] + n_free))
        n_ctx = ctx.shape[0]
        z = np.vstack([_conditional_draw(self.corr, k, ctx, rng, rows_of(bounds, slice(0, n_ctx))),
                       _conditional_draw(self.corr[k:, k:], 0, np.zeros((n_free, 0)), rng,
                                         rows_of(bounds, slice(n_ctx, None)))])
        if self.split is None or z.shape[0] == 0:
            return z
        # Redraw every dim but the split's within each category, from that category's matrix.
        pos = self.dims.index(f"value:{self.split}")
        enc = self.encoders[f"value:{self.split}"]
        if isinstance(enc, ConditionalCategoricalEncoder):
            given = next(c.given for c in self.columns if c.name == self.split)
            labels = enc.decode(z[:, pos], _given_numbers(given, enc, {}, parent_frame, z.shape[0]))
        else:
            labels = enc.decode(z[:, pos])
        keep = self._split_keep(self.split)
        own_keep = keep[keep >= k] - k
        k_keep = int((keep < k).sum())
        # The bounds of the redrawn dims, by their place among them.
        kept = {j: i for i, j in enumerate(own_keep)}
        split_bounds = {kept[j]: b for j, b in (bounds or {}).items() if j in kept}
        for cat, corr in zip(self.split_categories, self.split_corr):
            rows = np.flatnonzero(labels == cat)
            if rows.size == 0:
                continue
            with_ctx = rows[rows < n_ctx]
            free = rows[rows >= n_ctx]
            if with_ctx.size:
                z[np.ix_(with_ctx, own_keep)] = _conditional_draw(corr, k_keep, ctx[with_ctx], rng,
                                                                  rows_of(split_bounds, with_ctx))
            if free.size:
                z[np.ix_(free, own_keep)] = _conditional_draw(corr[k_keep:, k_keep:], 0, np.zeros((free.size, 0)), rng,
                                                              rows_of(split_bounds, free))
        return z

    def category_edges(self, parent_frame: pd.DataFrame | None, n: int) -> dict[int, np.ndarray]:
        """For each own dim of a category whose frequencies follow a parent column, every row's
        category slices on the uniform axis (rows × categories+1), read from its parent row
        (``parent_frame``, aligned with the rows; missing: the slices of rows without a parent).

        The neural synthesizer draws such a dim one category per cell: an equal-probability bin
        of the score would hold a different category for each parent diagnosis.
        """
        out = {}
        for j, cm in self._parent_categories():
            enc = self.encoders[cm.value_dim]
            cum = enc.cum[enc.bins(_given_numbers(cm.given, enc, {}, parent_frame, n))]
            out[j] = np.hstack([np.zeros((n, 1)), np.clip(cum, 0.0, 1.0)])
        return out

    def _parent_categories(self) -> list[tuple[int, ColumnModel]]:
        """The learned categories whose frequencies follow a parent column, with their dim's index."""
        return [(self.dims.index(cm.value_dim), cm) for cm in self.columns
                if cm.role == "copula" and (cm.given or "").startswith("parent:")
                and isinstance(self.encoders.get(cm.value_dim), ConditionalCategoricalEncoder)
                and self.encoders[cm.value_dim].categories]

    def decoded_values(self, column: str) -> list[Any] | None:
        """Every value :meth:`decode` can give ``column`` (None standing for NULL), where it is a
        learned category: the encoder's categories; None for any other column."""
        cm = next((c for c in self.columns if c.name == column), None)
        if cm is None or cm.role != "copula" or cm.kind in _NUMERIC_KINDS:
            return None
        enc = self.encoders.get(cm.value_dim)
        if not isinstance(enc, (CategoricalEncoder, ConditionalCategoricalEncoder)):
            return None
        return [*enc.categories, None]

    def even(self, z: np.ndarray) -> np.ndarray:
        """Drawn scores made even (:func:`stratify`). Under the neural synthesizer a category
        whose slices follow the parent row is left as drawn: its rows' scores lie in different
        slices, so moving them to even ranks moves rows across categories (stratified, the
        demo's drugs came out 26% lisinopril, as drawn 20.5%, in the source 19%)."""
        even = stratify(z)
        if self.neural is not None:
            for j, _ in self._parent_categories():
                even[:, j] = z[:, j]
        return even

    def decode(
        self,
        table: Table,
        z: np.ndarray,
        rng: np.random.Generator,
        parent_frame: pd.DataFrame | None = None,
        stratified: bool = False,
        pools: Callable[[str], PoolCache] | None = None,
    ) -> pd.DataFrame:
        """Turn own scores into a frame (key and FK columns left empty for the sampler).

        ``stratified``: the rows are a whole sample whose scores went through :func:`stratify`;
        a numeric with a marginal per category then takes, within each category, the quantiles
        at its rows' rank midpoints too, so every category's distribution is drawn as evenly as
        the column's (its extremes included), not only the column as a whole.

        ``parent_frame`` holds each row's synthetic parent row (aligned, NaN-filled for rows
        without a parent), for date offsets from parent columns and categories per parent column.

        ``pools``: a personal column's Faker pools by column name, kept across calls (the
        partitions of a stream; :class:`~relsynth.transform.pii.PoolCache`).
        """
        n = z.shape[0]
        pos = {name: i for i, name in enumerate(self.dims)}
        out: dict[str, Any] = {}
        numbers: dict[str, np.ndarray] = {}  # decoded numerics as numbers (NaN where NULL)
        for cm in self._decode_order():
            col = table.column(cm.name)
            if cm.role == "copula":
                enc = self.encoders[cm.value_dim]
                zc = z[:, pos[cm.value_dim]]
                if isinstance(enc, ConditionalCategoricalEncoder):
                    raw = enc.decode(zc, _given_numbers(cm.given, enc, numbers, parent_frame, n))
                elif cm.given:
                    raw = _decode_per_category(enc, zc, out[cm.given].to_numpy(dtype=object), stratified)
                else:
                    raw = enc.decode(zc)
                if cm.offset_ref is not None:
                    raw = raw + _reference_numbers(cm.offset_ref, cm.kind, out, None, parent_frame)
                elif cm.after is not None:  # fmax: a missing reference (no parent) leaves the value be
                    raw = np.fmax(raw, _reference_numbers(cm.after, cm.kind, out, None, parent_frame))
                values = from_number(raw, cm.kind) if cm.kind in _NUMERIC_KINDS else pd.Series(raw, dtype=object)
                isnull = np.zeros(n, dtype=bool)
                if cm.null_dim in pos:
                    isnull = self.encoders[cm.null_dim].decode(z[:, pos[cm.null_dim]]) >= 0.5
                    values = values.mask(isnull)
                if cm.kind in _NUMERIC_KINDS:
                    numbers[cm.name] = np.where(isnull, np.nan, raw)
                # A category is never NULL but through the NULL dim (an object column's isna is a
                # pass over every value); a number also through an offset from a NULL reference.
                if not col.nullable and (values.isna().any() if cm.kind in _NUMERIC_KINDS else isnull.any()):
                    # A NOT NULL column had no NULLs in training, so this only comes from an offset
                    # whose reference is NULL: borrow neighbouring rows' values.
                    values = values.ffill().bfill()
                out[cm.name] = values
            elif cm.role == "derived":
                lookup = {plain_value(a): b for a, b in cm.mapping or []}
                # NULL is a source value too (a missing title still maps to NameStyle 0).
                codes, uniques = pd.factorize(out[cm.given], use_na_sentinel=False)
                mapped = np.array([lookup.get(plain_value(v)) for v in uniques], dtype=object)
                out[cm.name] = pd.Series(mapped[codes], dtype=object)
            elif cm.role in ("text", "uuid", "binary", "native", "pii"):
                made = (cm.generator.generate(n, rng, out, pools(cm.name) if pools is not None else None)
                        if cm.role == "pii" else cm.generator.generate(n, rng))
                values = pd.Series(made, dtype=object)
                if cm.null_rate > 0:
                    values = values.mask(rng.random(n) < cm.null_rate)
                if cm.role == "pii" and cm.given and parent_frame is not None:
                    # The parent's value, as in the source (an invoice's billing address is its customer's).
                    copied = parent_frame[cm.given.removeprefix("parent:")].reset_index(drop=True)
                    values = copied.astype(object).where(copied.notna(), values)
                out[cm.name] = values
            else:  # key, fk and null columns are filled by the sampler
                out[cm.name] = pd.Series(np.full(n, None, dtype=object), dtype=object)
        return pd.DataFrame({c.name: out[c.name] for c in self.columns}, index=pd.RangeIndex(n))

    def _decode_order(self) -> list[ColumnModel]:
        """The columns, each after the columns it is decoded from (a stable topological order).

        A numeric with per-category marginals needs its category, a category with per-bin
        frequencies its numeric, a date offset its reference, a derived column its source.
        """
        names = {c.name for c in self.columns}
        needs: dict[str, set[str]] = {}
        for cm in self.columns:
            deps = {cm.given} if cm.given and cm.role in ("copula", "derived") else set()
            if cm.role == "pii":  # an email after the names it is built from
                deps |= set(cm.generator.sources)
            for ref in (cm.offset_ref, cm.after):
                if ref and ref.startswith("self:"):
                    deps.add(ref.split(":", 1)[1])
            needs[cm.name] = deps & names
        done: set[str] = set()
        order: list[ColumnModel] = []
        pending = list(self.columns)
        while pending:
            ready = [cm for cm in pending if needs[cm.name] <= done]
            if not ready:
                raise ModelError(f"model of {self.name!r}: columns {[c.name for c in pending]} depend on each other "
                                 "in a cycle; the model file is damaged")
            order += ready
            done |= {cm.name for cm in ready}
            pending = [cm for cm in pending if cm.name not in done]
        return order

    def decode_counts(self, dim: str, z: np.ndarray, frame: pd.DataFrame, stratified: bool = True) -> np.ndarray:
        """Children per row of this table's synthetic ``frame`` (aligned with its scores ``z``)
        under the count dim ``dim``; a count with a marginal per category is stratified within
        each category, as :meth:`decode` does for numerics (``stratified=False``: not, for rows
        drawn under a condition, whose counts must keep the shift it brings)."""
        if dim not in self.dims:
            raise ModelError(f"model of {self.name!r} has no children count {dim!r}; the model file does not match its schema")
        enc = self.encoders[dim]
        zc = z[:, self.dims.index(dim)]
        if dim in self.count_givens:
            counts = _decode_per_category(enc, zc, frame[self.count_givens[dim]].to_numpy(dtype=object), stratified)
        else:
            counts = enc.decode(zc)
        return np.maximum(np.round(counts), 0).astype(np.int64)

    @staticmethod
    def count_dim(child: str, fk_index: int) -> str:
        """Name of the dim holding children-per-row for ``child`` under its FK number ``fk_index``."""
        return f"count:{child}:{fk_index}"

    # ------------------------------------------------------------------- state
    def to_state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_rows": self.n_rows,
            "n_unparented": self.n_unparented,
            "n_parent_rows": self.n_parent_rows,
            "columns": [c.to_state() for c in self.columns],
            "dims": list(self.dims),
            "encoders": {
                name: {"type": type(e).__name__, "state": e.to_state()} for name, e in self.encoders.items()
            },
            "context": list(self.context),
            "corr": self.corr,
            "split": self.split,
            "split_categories": list(self.split_categories),
            "split_corr": self.split_corr,
            "count_givens": dict(self.count_givens),
            "neural": self.neural.to_state() if self.neural is not None else None,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TableModel:
        types = {c.__name__: c for c in (NumericEncoder, CategoricalEncoder, ConditionalNumericEncoder,
                                         ConditionalCategoricalEncoder)}
        return cls(
            name=state["name"],
            n_rows=int(state["n_rows"]),
            n_unparented=int(state["n_unparented"]),
            n_parent_rows=int(state["n_parent_rows"]),
            columns=[ColumnModel.from_state(c) for c in state["columns"]],
            dims=list(state["dims"]),
            encoders={n: types[e["type"]].from_state(e["state"]) for n, e in state["encoders"].items()},
            context=list(state["context"]),
            corr=np.asarray(state["corr"], dtype=np.float64),
            split=state["split"],
            split_categories=list(state["split_categories"]),
            split_corr=np.asarray(state["split_corr"], dtype=np.float64),
            count_givens=dict(state.get("count_givens", {})),
            neural=NeuralModel.from_state(state["neural"]) if state.get("neural") is not None else None,
        )


@dataclass
class ParentContext:
    """What a child's fit needs from its driver parent: its dims, scores and rows, the match,
    the encoders of its dims, and the facts its own fit found about its columns."""

    dims: list[str]
    z: np.ndarray
    frame: pd.DataFrame
    rows: np.ndarray  # parent row of each child row, -1 where the FK is NULL or dangling
    encoders: dict[str, Any] = field(default_factory=dict)
    facts: ColumnFacts | None = None


def _decode_per_category(enc: ConditionalNumericEncoder, z: np.ndarray, given: np.ndarray, stratified: bool) -> np.ndarray:
    """Decode a number with a marginal per category; ``stratified``: within each marginal (rows of
    categories without their own share the pooled one), as :func:`stratify` does for a column."""
    coded = Codes.of(given)  # hashed once, for the levels and for each category's rows
    if stratified:
        z = stratify_within(z, level_positions(enc.categories, coded))
    return enc.decode(z, given, coded)


def _given_numbers(given: str, enc: ConditionalCategoricalEncoder, numbers: dict[str, np.ndarray],
                   parent_frame: pd.DataFrame | None, n: int) -> np.ndarray:
    """The numbers a decoded category's bins are read from: a numeric of the row decoded before
    it, or (``parent:<column>``) its synthetic parent's column."""
    if given in numbers:
        return numbers[given]
    name = given.partition(":")[2]
    if parent_frame is None or name not in parent_frame:
        return np.full(n, np.nan)
    values = parent_frame[name]
    return level_positions(enc.levels, values) if enc.levels is not None else numeric_values(values)


# ---------------------------------------------------------------------- helpers
def _key_columns(table: Table, fk_columns: set[str], driver_columns: list[str]) -> dict[str, str]:
    """Columns that get new keys, with their scope.

    ``global``: a single-column primary key, or a single-column UNIQUE integer/uuid column.
    ``parent``: an integer part of a composite primary key beside the driver FK (an order's
    line numbers), numbered 1.. within each parent.
    ``group``: otherwise, the last integer part of a composite primary key that no FK fills,
    numbered within each combination of the key's other columns once they exist (``(tenant,
    id)``), so the tuple is unique without dropping rows. Other parts of composite keys are
    learned and the key tuple is made unique by the sampler.
    """
    keys: dict[str, str] = {}
    pk = list(table.primary_key)
    if len(pk) == 1 and pk[0] not in fk_columns:
        keys[pk[0]] = "global"
    elif len(pk) > 1 and driver_columns and set(driver_columns) <= set(pk):
        for c in pk:
            if c not in fk_columns and table.column(c).kind == "integer":
                keys[c] = "parent"
    elif len(pk) > 1:
        free = [c for c in pk if c not in fk_columns and table.column(c).kind == "integer"]
        if free:
            keys[free[-1]] = "group"
    for u in table.unique_sets:
        if len(u) == 1 and u[0] not in fk_columns and table.column(u[0]).kind in ("integer", "uuid"):
            keys.setdefault(u[0], "global")
    return keys


def _key_model(col: Column, values: pd.Series, scope: str = "global") -> ColumnModel:
    if scope in ("parent", "group"):
        start = int(values.min()) if len(values) and values.notna().any() else 1
        return ColumnModel(col.name, col.kind, "key", key_start=start, key_scope=scope)
    if col.kind == "uuid" or (
        col.kind == "string" and len(values) and _all_uuids(values)
    ):
        return ColumnModel(col.name, col.kind, "key", UuidGenerator.fit(values.to_numpy()))
    if col.kind == "string":
        return ColumnModel(col.name, col.kind, "key", TextGenerator.fit(values.to_numpy(), unique=True))
    # New integer keys start above the source's largest, so no synthetic key equals a real one.
    start = 1
    if col.kind == "integer" and len(values) and values.notna().any():
        start = max(int(pd.to_numeric(values).max()) + 1, 1)
    return ColumnModel(col.name, col.kind, "key", key_start=start)


def _generated_role(col: Column, values: pd.Series, n_valid: int, facts: ColumnFacts) -> Role | None:
    """How a column is generated rather than learned, if it is (``values``: its values, NULLs
    among them)."""
    if col.kind == "binary":
        return "binary"
    if col.kind == "uuid":
        return "uuid"
    if col.kind not in ("string", "json"):
        return None
    n_distinct = facts.distinct(col.name)
    if generated_style(col.kind, col.native_type, col.element_kind) is not None:
        # Pattern text is no valid JSON/array/tsvector/inet/...: many distinct values get a generator of their own.
        return "native" if is_free_text(n_distinct, n_valid) else None
    if col.kind == "string" and n_distinct > 1 and _all_uuids(values):
        return "uuid"
    if is_free_text(n_distinct, n_valid):
        return "text"
    return None


#: Share of a child's personal values equal to its parent row's column for the child to copy it.
COPY_MIN_SHARE = 0.9


def _copied_from_parent(values: pd.Series, parent: ParentContext | None, unique: set[str], name: str) -> str | None:
    """``"parent:<column>"`` when the column repeats a text column of the driver parent's row in
    at least :data:`COPY_MIN_SHARE` of the rows with a value and a parent (an invoice's billing
    address, its customer's address), so the synthetic child repeats the synthetic parent's."""
    if parent is None or name in unique:
        return None
    linked = (parent.rows >= 0) & values.notna().to_numpy()
    if linked.sum() < 2:
        return None
    child = values.to_numpy(dtype=object)[linked]
    for column in parent.frame.columns:
        theirs = parent.frame[column]
        if theirs.dtype != object:
            continue
        if np.mean(theirs.to_numpy(dtype=object)[parent.rows[linked]] == child) >= COPY_MIN_SHARE:
            return f"parent:{column}"
    return None


def _email_sources(pii: dict[str, PiiColumn], column: str) -> list[str]:
    """The columns an email column is built from: the row's first and last name, or full name."""
    if pii[column].kind != "email":
        return []
    firsts = [c for c, p in pii.items() if p.kind == "first_name"]
    lasts = [c for c, p in pii.items() if p.kind == "last_name"]
    if firsts and lasts:
        return [firsts[0], lasts[0]]
    return [c for c, p in pii.items() if p.kind == "full_name"][:1]


def is_free_text(n_distinct: int, n_valid: int) -> bool:
    """Whether a text column with these counts is generated from patterns rather than learned as categories."""
    return n_distinct >= TEXT_MIN_DISTINCT and n_distinct > TEXT_DISTINCT_RATIO * n_valid


def _all_uuids(values: pd.Series) -> bool:
    """Every non-NULL value is a UUID string (a quick look at a few first: most columns are not)."""
    present = values.dropna()
    if not len(present) or not all(UUID_RE.match(str(v)) for v in present.iloc[:16]):
        return False
    return all(UUID_RE.match(v) for v in pd.unique(present.astype(str)))


def _find_derived(frame: pd.DataFrame, categorical: list[str], models: dict[str, ColumnModel],
                  unique: set[str], facts: ColumnFacts) -> None:
    """Mark categorical columns that are a function of another one (unit of a test) as derived."""
    n = len(frame)
    distinct = {c: facts.distinct(c) + int(not facts.present(c).all()) for c in categorical}  # NULL counting
    for target in categorical:
        # A column others are derived from stays learned: derivations never chain.
        if target in unique or any(m.role == "derived" and m.given == target for m in models.values()):
            continue
        for source in categorical:
            if source == target or models[source].role != "copula":
                continue
            n_source = distinct[source]
            # A source with about one row per category makes anything look like a function of it;
            # a function of a column never has more values than it.
            if n_source > MAX_GIVEN_CATEGORIES or n_source * 5 > n or distinct[target] > n_source:
                continue
            # The distinct (source, target) pairs, in the order they first occur; NULL is code -1.
            by, of = facts.codes(source), facts.codes(target)
            pairs, first = np.unique((by.codes + 1).astype(np.int64) * (of.size + 1) + (of.codes + 1), return_index=True)
            if distinct_ints(pairs // (of.size + 1)).size < pairs.size:  # a source value with two targets
                continue
            cm = models[target]
            cm.role, cm.given = "derived", source
            rows = np.sort(first)
            cm.mapping = [[plain_value(a), plain_value(b)] for a, b in
                          zip(frame[source].to_numpy(dtype=object)[rows], frame[target].to_numpy(dtype=object)[rows])]
            break


def _best_given(x: np.ndarray, candidates: dict[str, Codes]) -> str | None:
    """The categorical column explaining most of ``x``'s rank variance, if it explains enough."""
    best: tuple[float, str | None] = (GIVEN_MIN_ETA2, None)
    ranks = association_ranks(x) if candidates and x.size >= 2 else None
    for name, codes in candidates.items():
        eta2 = correlation_ratio(x, codes, ranks)
        if eta2 > best[0]:
            best = (eta2, name)
    return best[1]


def _positions(labels: Codes, others: np.ndarray) -> dict[Any, float] | None:
    """Place of each category along the leading principal direction of its rows' mean ``others``
    (weighted by category size); None when too few rows are labelled."""
    notna = labels.codes >= 0
    if notna.sum() < 10 or others.shape[1] == 0:
        return None
    codes, uniques = labels.renumbered()
    x = others[notna]
    counts = np.bincount(codes, minlength=len(uniques)).astype(np.float64)
    means = np.stack([np.bincount(codes, weights=x[:, i], minlength=len(uniques)) for i in range(x.shape[1])],
                     axis=1) / counts[:, None]
    centered = (means - (counts @ means) / counts.sum()) * np.sqrt(counts)[:, None]
    direction = np.linalg.svd(centered, full_matrices=False)[2][0]
    return {plain_value(u): float(p) for u, p in zip(uniques, means @ direction)}


def _copula_gap(values: Codes, x: np.ndarray, z_c: np.ndarray, z_x: np.ndarray,
                enc: CategoricalEncoder, n_bins: int = 10, max_rows: int = 20000) -> float:
    """How far the copula is from the real table of a category and a numeric (in ``n_bins``
    quantile bins): the total variation distance between the two, less the distance expected
    from sampling alone.

    The copula's table is exact, not simulated: the pair's scores are bivariate normal with
    their correlation, so each real row's numeric score gives every category's probability.
    """
    idx = np.flatnonzero((values.codes >= 0) & ~np.isnan(x))
    if idx.size > max_rows:
        idx = idx[np.linspace(0, idx.size - 1, max_rows).astype(np.int64)]
    n, m = idx.size, len(enc.categories)
    if n < 2 or m < 2:
        return 0.0
    rank = {c: i for i, c in enumerate(enc.categories)}
    assert values.uniques is not None
    codes = np.array([rank.get(plain_value(u), 0) for u in values.uniques], dtype=np.int64)[values.codes[idx]]
    xs = x[idx]
    edges = quantile_edges(xs, n_bins)
    b = np.searchsorted(edges, xs, side="right")
    real = group_sums(b * m + codes, 1.0 / n, (edges.size + 1) * m).reshape(edges.size + 1, m)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = float(np.clip(np.nan_to_num(np.corrcoef(z_c[idx], z_x[idx])[0, 1]), -0.999, 0.999))
    bounds = ndtri(np.clip(np.r_[0.0, enc.cum], 0.0, 1.0))
    bounds[0], bounds[-1] = -np.inf, np.inf
    shifted = (bounds[None, :] - rho * z_x[idx][:, None]) / np.sqrt(1 - rho**2)
    probs = np.diff(ndtr(shifted), axis=1)
    implied = group_sums(b, probs / n, real.shape[0])
    noise = 0.5 * np.sqrt(2 * real * (1 - real) / (np.pi * n)).sum()
    return float(0.5 * np.abs(real - implied).sum() - noise)


class ColumnFacts:
    """Facts about each column of one frame, each found on first use and kept: a fit asks at
    several steps (and its children's fits about their parent's columns), and a text column
    of 100,000 rows costs ~20 ms a distinct count, ~5 ms a NULL test."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._distinct: dict[str, int] = {}
        self._present: dict[str, np.ndarray] = {}
        self._codes: dict[str, Codes] = {}

    def distinct(self, column: str) -> int:
        """Distinct non-NULL values."""
        if column not in self._distinct:
            self._distinct[column] = int(self.frame[column].nunique())
        return self._distinct[column]

    def codes(self, column: str) -> Codes:
        """The column factorized (NULL: -1), for the association tests and derivations."""
        if column not in self._codes:
            self._codes[column] = Codes.of(self.frame[column])
        return self._codes[column]

    def present(self, column: str) -> np.ndarray:
        """True where the column is not NULL (read-only: shared by every caller)."""
        if column not in self._present:
            mask = self.frame[column].notna().to_numpy()
            mask.flags.writeable = False
            self._present[column] = mask
        return self._present[column]


def _whole_seconds(kind: str, x: np.ndarray) -> bool:
    return kind in ("datetime", "time") and bool(np.all(x == np.round(x)))


_EPOCH = np.datetime64("1970-01-01T00:00:00", "s")


def to_number(values: pd.Series, kind: str) -> np.ndarray:
    """Values of a numeric-like kind → float64 (dates as days, datetimes/times as seconds)."""
    if kind == "date":
        return (values.to_numpy(dtype="datetime64[D]").astype(np.int64)).astype(np.float64)
    if kind == "datetime":
        us = values.to_numpy(dtype="datetime64[us]").astype(np.int64)
        return us / 1e6
    if kind == "time":
        return np.array([v.hour * 3600 + v.minute * 60 + v.second + v.microsecond / 1e6 for v in values], dtype=np.float64)
    return pd.to_numeric(values).to_numpy(dtype=np.float64)


def from_number(x: np.ndarray, kind: str) -> pd.Series:
    """Inverse of :func:`to_number`, into the frame convention's dtype (NaN → NULL)."""
    nan = np.isnan(x)
    if kind == "date":
        days = np.where(nan, 0, np.round(x)).astype(np.int64)
        stamps = days.astype("datetime64[D]").astype("datetime64[ns]")
        stamps[nan] = np.datetime64("NaT")
        return pd.Series(stamps)
    if kind == "datetime":
        us = np.where(nan, 0, np.round(x * 1e6)).astype(np.int64)
        stamps = us.astype("datetime64[us]").astype("datetime64[ns]")
        stamps[nan] = np.datetime64("NaT")
        return pd.Series(stamps)
    if kind == "time":
        secs = np.clip(np.where(nan, 0, x), 0, 86399.999999)
        vals = [None if m else (dt.datetime.min + dt.timedelta(seconds=float(s))).time() for s, m in zip(secs, nan)]
        return pd.Series(vals, dtype=object)
    if kind == "integer":
        whole = np.where(nan, 0.0, np.round(x))
        if np.all(np.abs(whole) < 2.0**63):  # the Int64 array from its values and NULL mask at once
            return pd.Series(pd.arrays.IntegerArray(whole.astype(np.int64), nan))
        return pd.Series(np.round(x)).astype("Int64").mask(nan)  # raises as astype does
    return pd.Series(x, dtype=np.float64)


def _reference_numbers(
    ref: str,
    kind: str,
    frame: pd.DataFrame | Mapping[str, pd.Series],
    parent: ParentContext | None,
    parent_frame: pd.DataFrame | None = None,
) -> np.ndarray:
    """Numbers (in ``kind``'s unit) of the column a date offset is taken from, row-aligned
    (``frame``: the rows, or the columns decoded so far by name)."""
    where, name = ref.split(":", 1)
    if where == "self":
        series = frame[name]
    elif parent_frame is not None:
        series = parent_frame[name]
    else:
        assert parent is not None
        rows = parent.rows
        src = parent.frame[name].to_numpy(dtype="datetime64[us]")
        vals = np.full(rows.size, np.datetime64("NaT"), dtype="datetime64[us]")
        vals[rows >= 0] = src[rows[rows >= 0]]
        series = pd.Series(vals)
    # The offset is counted in the unit of the column being generated.
    if kind == "date":
        return to_number(series.dt.normalize() if hasattr(series, "dt") else series, "date")
    return to_number(series, "datetime")


def _choose_offsets(table: Table, frame: pd.DataFrame, parent: ParentContext | None) -> dict[str, tuple[str, bool]]:
    """For each date/datetime column, the tightest NOT NULL reference it is never earlier than,
    and whether it is tied to it: the offsets vary less than the dates themselves (a discharge a
    few days after its admission). An untied column is encoded as itself: as an offset, an order
    date after its employee's hire date spread the orders of two years over thirty, and a
    column that is one date throughout over years."""
    temporal = [c for c in table.columns if c.kind in _TEMPORAL]
    if not temporal or len(frame) == 0:
        return {}
    chosen: dict[str, tuple[str, bool]] = {}
    candidates: list[tuple[str, Column, np.ndarray]] = []
    if parent is not None and (parent.rows >= 0).any():
        for pc in parent.frame.columns:
            pser = parent.frame[pc]
            if not pd.api.types.is_datetime64_any_dtype(pser) or pser.isna().any():
                continue
            src = pser.to_numpy(dtype="datetime64[us]")
            vals = np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[us]")
            ok = parent.rows >= 0
            vals[ok] = src[parent.rows[ok]]
            is_date = bool((pser == pser.dt.normalize()).all())
            candidates.append((f"parent:{pc}", Column(pc, "date" if is_date else "datetime"), vals))
    for col in temporal:
        values = frame[col.name]
        mine = values.to_numpy(dtype="datetime64[us]")
        best: tuple[float, str, bool] | None = None
        for ref, rcol, rvals in candidates:
            if col.kind == "date" and rcol.kind == "datetime":
                continue  # a date cannot be placed after a time of day without rounding past it
            both = ~(np.isnat(mine) | np.isnat(rvals))
            if not both.any() or (~np.isnat(mine) & np.isnat(rvals)).any():
                continue
            diff = (mine[both] - rvals[both]).astype(np.int64)
            if (diff < 0).any():
                continue
            med = float(np.median(diff))
            if best is None or med < best[0]:
                best = (med, ref, float(diff.std()) < float(mine[both].astype(np.int64).std()))
        if best is not None:
            chosen[col.name] = (best[1], best[2])
        if not values.isna().any():
            candidates.append((f"self:{col.name}", col, mine))
    return chosen


def stratify(z: np.ndarray) -> np.ndarray:
    """Replace each column by the normal quantiles at its rows' rank midpoints ((rank + ½) / n).

    Every dependence the copula drew is a rank order, and ranks are kept; only the sampling
    noise of each marginal goes: at scale 1 a category with k of n source rows gets k rows (±1),
    and a table of 8 departments gets each department once instead of a random multiset that
    would tilt every child table's marginals.
    """
    n = z.shape[0]
    if n < 2 or z.shape[1] == 0:
        return z
    # Columns as contiguous rows and introsort: 3x faster than a stable sort down the columns
    # (ties, which a continuous draw does not have, fall in a fixed order either way).
    columns = np.ascontiguousarray(z.T)
    order = np.argsort(columns, axis=1)
    # The score of rank r is the same in every column: n quantiles, placed by each column's
    # order (not a quantile per value: 0.18 s of TPC-H SF 0.1's sampling).
    grid = to_normal((np.arange(n) + 0.5) / n)
    scores = np.empty_like(columns)
    np.put_along_axis(scores, order, grid[None, :], axis=1)
    return scores.T


def stratify_within(z: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """:func:`stratify` for one column within each group of rows (``groups``: floats, NaN one group too)."""
    codes = pd.factorize(groups, use_na_sentinel=False)[0]
    n = z.size
    if n < 2:
        return z
    order = np.lexsort((z, codes))
    sizes = np.bincount(codes)
    starts = np.cumsum(sizes) - sizes
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n) - starts[codes[order]]
    return to_normal((ranks + 0.5) / sizes[codes])


def _correlation(z: np.ndarray) -> np.ndarray:
    """Correlation of normal scores, made positive definite with unit diagonal."""
    d = z.shape[1]
    if d == 0:
        return np.zeros((0, 0))
    if z.shape[0] < 2:
        return np.eye(d)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.corrcoef(z, rowvar=False)
    c = np.atleast_2d(np.nan_to_num(c, nan=0.0))
    np.fill_diagonal(c, 1.0)
    w, v = np.linalg.eigh((c + c.T) / 2)
    w = np.maximum(w, 1e-6)
    c = (v * w) @ v.T
    s = np.sqrt(np.diag(c))
    return c / np.outer(s, s)


def _conditional_draw(corr: np.ndarray, k: int, context: np.ndarray, rng: np.random.Generator,
                      bounds: LatentBounds | None = None) -> np.ndarray:
    """Draw the last ``len(corr) - k`` dims given the first ``k`` (one output row per context row),
    each dim in ``bounds`` (indices among the drawn dims) within its intervals."""
    d = corr.shape[0] - k
    n = context.shape[0]
    if n == 0:
        return np.zeros((0, d))
    if k == 0:
        return truncated_gaussian(np.zeros((n, d)), corr, bounds or {}, rng)
    c_cc = corr[:k, :k] + _RIDGE * np.eye(k)
    c_co = corr[:k, k:]
    b = np.linalg.solve(c_cc, c_co)
    cov = corr[k:, k:] - c_co.T @ b
    return truncated_gaussian(context @ b, cov, bounds or {}, rng)



