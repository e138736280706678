"""Column encoders: round trips, frequencies, no copied text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from relsynth.transform.encoders import (
    ASSOCIATION_ROWS,
    CategoricalEncoder,
    Codes,
    ConditionalCategoricalEncoder,
    ConditionalNumericEncoder,
    NumericEncoder,
    QuantileBins,
    TextGenerator,
    UuidGenerator,
    UUID_RE,
    association_ranks,
    correlation_ratio,
    cramers_v,
    detect_decimals,
    group_sums,
    level_positions,
    _SortedRuns,
)
from relsynth.models.copula import stratify_within


def test_numeric_continuous_keeps_distribution_and_precision() -> None:
    rng = np.random.default_rng(0)
    x = np.round(rng.lognormal(3, 0.5, 20000), 1)
    enc, z = NumericEncoder.fit_transform(x, rng)
    assert not enc.discrete and enc.decimals == 1
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
    y = enc.decode(rng.standard_normal(20000))
    assert np.allclose(y, np.round(y, 1))
    assert y.min() >= x.min() and y.max() <= x.max()
    for q in (0.1, 0.5, 0.9):
        assert abs(np.quantile(y, q) - np.quantile(x, q)) / np.quantile(x, q) < 0.05


def test_numeric_discrete_keeps_exact_frequencies() -> None:
    rng = np.random.default_rng(1)
    x = rng.choice([0, 1, 5], p=[0.7, 0.2, 0.1], size=50000).astype(float)
    enc, z = NumericEncoder.fit_transform(x, rng, integer=True)
    assert enc.discrete
    y = enc.decode(rng.standard_normal(50000))
    assert set(np.unique(y)) == {0.0, 1.0, 5.0}
    assert abs((y == 0).mean() - 0.7) < 0.01 and abs((y == 5).mean() - 0.1) < 0.01


def test_categorical_frequencies_round_trip() -> None:
    rng = np.random.default_rng(2)
    vals = rng.choice(np.array(["a", "b", "c"], dtype=object), p=[0.6, 0.3, 0.1], size=30000)
    enc, z = CategoricalEncoder.fit_transform(vals, rng)
    assert enc.categories == ["a", "b", "c"]
    back = enc.decode(rng.standard_normal(30000))
    assert abs((back == "c").mean() - 0.1) < 0.01


def test_conditional_numeric_keeps_per_category_distributions() -> None:
    rng = np.random.default_rng(3)
    cat = rng.choice(np.array(["glucose", "hemoglobin"], dtype=object), size=20000)
    x = np.where(cat == "glucose", rng.normal(100, 15, 20000), rng.normal(13, 1, 20000))
    assert correlation_ratio(x, cat) > 0.7
    enc, z = ConditionalNumericEncoder.fit_transform(x, cat, rng)
    y = enc.decode(rng.standard_normal(20000), cat)
    assert abs(y[cat == "hemoglobin"].mean() - 13) < 0.1
    assert abs(y[cat == "glucose"].mean() - 100) < 1.0
    assert y[cat == "hemoglobin"].max() < 30  # no glucose-range values leak into hemoglobin


def test_conditional_numeric_decodes_each_row_by_the_category_it_equals() -> None:
    """Rows are matched to categories as ``given == category`` does (NULL as None is one,
    NaN is none; 1, 1.0 and True are one), distinct values compared once."""
    rng = np.random.default_rng(4)
    given = np.array(rng.choice(np.array(["a", "b", None, np.nan, 1, 1.0, True, "c"], dtype=object), size=3000),
                     dtype=object)
    x = rng.normal(size=3000) + np.array([hash(str(v)) % 7 for v in given])
    enc, _ = ConditionalNumericEncoder.fit_transform(x, given, rng)
    assert None in enc.categories and 1 in enc.categories
    z = rng.standard_normal(3000)
    expected = enc.pooled.decode(z)
    for cat, e in zip(enc.categories, enc.encoders):
        rows = np.flatnonzero(given == cat)
        expected[rows] = e.decode(z[rows])
    assert np.array_equal(enc.decode(z, given), expected)
    assert np.array_equal(enc.decode(z, given, Codes.of(given)), expected)  # the caller's codes: the same rows


def _plans(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Age (some NULL) and a plan that is 'senior' exactly from 65 on, 'gold'/'basic' below."""
    age = rng.integers(18, 96, n).astype(float)
    plan = np.where(age >= 65, "senior", rng.choice(np.array(["gold", "basic"]), n, p=[0.3, 0.7])).astype(object)
    age[rng.random(n) < 0.05] = np.nan
    plan[np.isnan(age)] = rng.choice(np.array(["gold", "basic", "senior"], dtype=object), int(np.isnan(age).sum()))
    return age, plan


def test_conditional_categorical_bins_do_not_depend_on_the_categories_order() -> None:
    """Why a second fit in another order may take the first fit's edges (copula's
    _condition_categories): the bins found are the same."""
    rng = np.random.default_rng(8)
    age, plan = _plans(rng, 20000)
    first, _ = ConditionalCategoricalEncoder.fit_transform(plan, age, rng)
    for position in ({"basic": 0, "gold": 1, "senior": 2}, {"senior": 0, "basic": 1, "gold": 2}):
        again, _ = ConditionalCategoricalEncoder.fit_transform(plan, age, rng, position)
        given, _ = ConditionalCategoricalEncoder.fit_transform(plan, age, rng, position, edges=first.edges)
        assert np.array_equal(again.edges, first.edges) and np.array_equal(given.edges, first.edges)
        assert again.categories == given.categories and np.allclose(again.cum, given.cum)


def test_conditional_categorical_keeps_a_step_and_round_trips_its_state() -> None:
    rng = np.random.default_rng(7)
    age, plan = _plans(rng, 20000)
    enc, z = ConditionalCategoricalEncoder.fit_transform(plan, age, rng, position={"basic": 0, "gold": 1, "senior": 2})
    assert enc.categories == ["basic", "gold", "senior"]
    assert 65.0 in enc.edges and len(enc.edges) < ConditionalCategoricalEncoder.max_bins
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    assert (enc.decode(z, age) == plan).all()  # each row's score lies in its category's slice of its bin
    # Fresh scores: the step holds, the frequencies within the bins and for NULL ages are kept.
    out = enc.decode(rng.standard_normal(age.size), age)
    known = ~np.isnan(age)
    violations = ((age[known] >= 65) != (out[known] == "senior")).mean()
    assert violations < 0.005
    assert abs((out[known & (age < 65)] == "gold").mean() - 0.3) < 0.02
    assert abs((out[~known] == "senior").mean() - (plan[~known] == "senior").mean()) < 0.06
    # Plain data: JSON plus numpy arrays, and the same decoding after a round trip.
    state = enc.to_state()
    json.dumps({k: v for k, v in state.items() if not isinstance(v, np.ndarray)})
    back = ConditionalCategoricalEncoder.from_state(state)
    w = rng.standard_normal(1000)
    assert (back.decode(w, age[:1000]) == enc.decode(w, age[:1000])).all()


def test_conditional_categorical_without_enough_rows_is_the_plain_marginal() -> None:
    rng = np.random.default_rng(8)
    vals = np.array(["a", "b", "b", "c"] * 10, dtype=object)
    enc, z = ConditionalCategoricalEncoder.fit_transform(vals, np.arange(40.0), rng)
    assert enc.edges.size == 0
    out = enc.decode(rng.standard_normal(40000), np.full(40000, 3.0))
    assert abs((out == "b").mean() - 0.5) < 0.02


def test_conditional_categorical_given_a_category_keeps_its_levels() -> None:
    """A categorical given (a parent's diagnosis) stands for its position in ``levels``; unknown
    levels and NULLs fall in the NULL bin (overall frequencies)."""
    rng = np.random.default_rng(9)
    levels = ["flu", "cold", "cancer"]
    assert np.array_equal(level_positions(levels, np.array(["cancer", None, "flu", "new"], dtype=object)),
                          [2.0, np.nan, 0.0, np.nan], equal_nan=True)
    diag = rng.choice(levels, 30000, p=[0.5, 0.3, 0.2])
    drug = np.where(diag == "cancer", "chemo", np.where(rng.random(30000) < 0.8, "rest", "antiviral")).astype(object)
    enc, z = ConditionalCategoricalEncoder.fit_transform(drug, level_positions(levels, diag), rng, levels=levels)
    back = ConditionalCategoricalEncoder.from_state(json.loads(json.dumps(
        {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in enc.to_state().items()})))
    assert back.levels == levels
    given = np.array(["cancer"] * 5000 + ["flu"] * 5000 + ["unseen"] * 5000, dtype=object)
    out = back.decode(rng.standard_normal(given.size), level_positions(back.levels, given))
    assert (out[:5000] == "chemo").mean() > 0.99
    assert (out[5000:10000] == "chemo").mean() < 0.01
    assert abs((out[10000:] == "chemo").mean() - (drug == "chemo").mean()) < 0.03


def test_stratify_within_spreads_each_group_evenly() -> None:
    rng = np.random.default_rng(10)
    groups = np.repeat([0.0, 1.0, np.nan], [4, 1000, 2])
    z = rng.standard_normal(groups.size) + np.where(groups == 1.0, 3.0, 0.0)
    out = stratify_within(z, groups)
    assert np.argsort(out[:4]).tolist() == np.argsort(z[:4]).tolist()  # ranks kept within a group
    assert np.allclose(np.sort(out[:4]), [-1.1503, -0.3186, 0.3186, 1.1503], atol=1e-4)
    assert abs(out[4:1004].mean()) < 1e-9 and abs(out[4:1004].std() - 1) < 0.01
    assert np.allclose(np.sort(out[1004:]), [-0.6745, 0.6745], atol=1e-4)


def test_cramers_v_is_zero_for_independence_and_one_for_a_function() -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(size=20000)
    assert cramers_v(rng.choice(np.array(["a", "b", "c"], dtype=object), 20000), x) < 0.03
    assert cramers_v(np.where(x > 0.5, "hi", "lo").astype(object), x) > 0.95


def test_association_statistics_take_category_codes_factorized_once() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=3000)
    values = np.where(x > 0, "hi", rng.choice(np.array(["a", "b", None], dtype=object), 3000)).astype(object)
    coded = Codes.of(values)
    assert coded.size == 3 and (coded.codes == -1).sum() == sum(v is None for v in values)
    assert cramers_v(coded, x) == cramers_v(values, x) > 0.5
    assert np.isclose(correlation_ratio(x, coded), correlation_ratio(x, values))  # NULL a category of its own
    rows = x > -1
    assert np.isclose(correlation_ratio(x[rows], coded[rows]), correlation_ratio(x[rows], values[rows]))


def test_association_statistics_take_a_numeric_ranked_or_binned_once() -> None:
    """The same figures from x ranked (correlation_ratio) or cut into bins (cramers_v) once for
    many categories, also where the categories (and, for cramers_v, x) are NULL, and on more
    rows than are used."""
    rng = np.random.default_rng(5)
    for n in (3000, ASSOCIATION_ROWS + 7000):
        x = rng.normal(size=n)
        holey_x = np.where(rng.random(n) < 0.1, np.nan, x)
        ranks, binned = association_ranks(x), QuantileBins.of(holey_x)
        whole = np.where(x > 0, "hi", rng.choice(np.array(["a", "b"], dtype=object), n)).astype(object)
        holed = whole.copy()
        holed[rng.random(n) < 0.2] = None
        for values in (whole, holed):
            assert correlation_ratio(x, values, ranks) == correlation_ratio(x, values) > 0.1
            assert cramers_v(Codes.of(values), binned) == cramers_v(values, holey_x) > 0.3


def test_sorted_runs_give_tie_ranges_distinct_values_and_counts() -> None:
    """One stable argsort stands for np.sort, np.unique and two binary searches of every value."""
    rng = np.random.default_rng(5)
    for x in (rng.normal(size=500), np.round(rng.normal(size=500)), np.zeros(3), np.zeros(0), np.array([2.0, 1.0]),
              np.array([0.0, -0.0, 1.0, -0.0])):
        runs = _SortedRuns.of(x)
        left, right = runs.tie_ranges()
        s = np.sort(x)
        assert np.array_equal(runs.sorted, s)
        assert np.array_equal(left, np.searchsorted(s, x, side="left"))
        assert np.array_equal(right, np.searchsorted(s, x, side="right"))
        distinct, counts = runs.distinct()
        expected, expected_counts = np.unique(s, return_counts=True)
        assert np.array_equal(distinct, expected) and np.array_equal(counts, expected_counts)
        assert np.array_equal(np.signbit(distinct), np.signbit(expected))  # -0.0 and 0.0 as np.unique keeps them


def test_encoders_fit_the_same_from_codes_as_from_values() -> None:
    """The fit hands the encoders a column's Codes (factorized once) instead of its values."""
    rng = np.random.default_rng(7)
    column = np.array(rng.choice(["b", "a", None, "c", "d"], size=400, p=[0.3, 0.3, 0.1, 0.2, 0.1]), dtype=object)
    present = np.array([v is not None for v in column])
    rows = np.flatnonzero(present)[50:]  # a subset whose first category is not the column's first
    x = rng.normal(size=rows.size)
    for values, codes in ((column[present], Codes.of(column)[present]), (column[rows], Codes.of(column)[rows])):
        a, za = CategoricalEncoder.fit_transform(values, np.random.default_rng(1), {"a": 0.5, "b": 0.1})
        b, zb = CategoricalEncoder.fit_transform(codes, np.random.default_rng(1), {"a": 0.5, "b": 0.1})
        assert a.categories == b.categories and np.array_equal(a.cum, b.cum) and np.array_equal(za, zb)
    c, zc = ConditionalCategoricalEncoder.fit_transform(column[rows], x, np.random.default_rng(2))
    d, zd = ConditionalCategoricalEncoder.fit_transform(Codes.of(column)[rows], x, np.random.default_rng(2))
    assert c.categories == d.categories and np.array_equal(c.cum, d.cum) and np.array_equal(zc, zd)
    with pytest.raises(ValueError, match="non-null"):
        CategoricalEncoder.fit_transform(Codes.of(column), np.random.default_rng(1))
    # A parent's category as its place in the categories' order, from its values or its codes.
    levels = ["d", "a", "c", "b", "z"]
    assert np.array_equal(level_positions(levels, column), level_positions(levels, Codes.of(column)), equal_nan=True)
    # A number's marginal per category: NULL (10% of the rows) is a category of its own.
    y = rng.gamma(2.0, size=column.size)
    for given in (column, column[::-1].copy()):
        e, ze = ConditionalNumericEncoder.fit_transform(y, given, np.random.default_rng(3))
        f, zf = ConditionalNumericEncoder.fit_transform(y, Codes.of(given), np.random.default_rng(3))
        assert e.categories == f.categories and None in f.categories and np.array_equal(ze, zf)
        assert all(np.array_equal(a.values, b.values) for a, b in zip(e.encoders, f.encoders))


def test_group_sums_add_as_np_add_at_does_to_the_last_bit() -> None:
    rng = np.random.default_rng(6)
    groups = rng.integers(0, 7, size=3000)
    for weights in (1.0 / 3000, rng.normal(size=3000) * 1e3, rng.random((3000, 4)) / 3000):
        expected = np.zeros((9,) + np.shape(weights)[1:])
        np.add.at(expected, groups, weights)
        got = group_sums(groups, weights, 9)
        assert got.shape == expected.shape
        assert np.array_equal(got, expected)  # not approximately: the samples stay the same


def test_text_generator_never_copies_values_and_can_be_unique() -> None:
    rng = np.random.default_rng(4)
    real = ["Alice Smith", "Bob Jones", "Carol King", "ALFKI", "ANATR"] * 20
    gen = TextGenerator.fit(real, unique=True)
    out = gen.generate(500, rng)
    assert len(set(out)) == 500
    assert not set(out) & set(real)
    shapes = {v.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "A" * 26 + "a" * 26)) for v in out}
    assert shapes <= {"Aaaaa Aaaaa", "Aaa Aaaaa", "Aaaaa Aaaa", "AAAAA"} | {s + d for s in ["AAAAA"] for d in "0123456789"} or len(shapes) > 0


def test_uuid_generator_format() -> None:
    gen = UuidGenerator.fit(["5f0c1f0e-1c0a-4c5e-9b1e-0c2d3e4f5a6b"])
    out = gen.generate(100, np.random.default_rng(5))
    assert all(UUID_RE.match(v) and len(v) == 36 for v in out)
    assert len(set(out)) == 100


def test_detect_decimals() -> None:
    assert detect_decimals(np.array([1.0, 2.0])) == 0
    assert detect_decimals(np.array([1.25, 2.5])) == 2
    assert detect_decimals(np.array([np.pi])) is None


def test_adjust_total_keeps_the_count_distribution() -> None:
    from relsynth.transform.keys import adjust_total, assign_parents

    rng = np.random.default_rng(6)
    counts = rng.choice([0, 1, 2, 3, 6], p=[0.15, 0.3, 0.3, 0.2, 0.05], size=5000)
    target = int(counts.sum() * 0.98)
    out = adjust_total(counts, target, rng)
    assert out.sum() == target and (out >= 0).all()
    for k in (0, 1, 2, 3):
        assert abs((out == k).mean() - (counts == k).mean()) < 0.03
    rows = assign_parents(target, counts.astype(float), rng)
    assert rows.size == target
    realised = np.bincount(rows, minlength=counts.size)
    assert abs((realised == 0).mean() - (counts == 0).mean()) < 0.03
