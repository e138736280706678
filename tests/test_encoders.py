"""Column encoders: round trips, frequencies, no copied text."""

from __future__ import annotations

import numpy as np

from relsynth.transform.encoders import (
    CategoricalEncoder,
    ConditionalNumericEncoder,
    NumericEncoder,
    TextGenerator,
    UuidGenerator,
    UUID_RE,
    correlation_ratio,
    detect_decimals,
)


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
