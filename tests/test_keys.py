"""Key helpers: parent assignment that keeps a parent attribute following a child attribute, and distinct integers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth.evaluate.metrics import pair_score
from relsynth.schema import schema_from_dataframes
from relsynth.transform.keys import distinct_ints, int_codes, match_rows, pair_by_attribute, rows_covered


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(pd.Series(a).rank().corr(pd.Series(b).rank()))


def test_pair_by_attribute_keeps_degrees_and_reaches_the_correlation() -> None:
    rng = np.random.default_rng(0)
    parent_x = rng.normal(size=300)
    slots = np.repeat(np.arange(300), rng.integers(1, 8, size=300))
    child_x = rng.normal(size=slots.size)
    for rho in (0.9, 0.5, -0.7):
        paired = pair_by_attribute(rng.permutation(slots), parent_x[rng.permutation(slots)], child_x, rho, rng)
        # The call reorders the slots it is given; the degrees are those of the input.
        assert np.array_equal(np.bincount(paired, minlength=300), np.bincount(slots, minlength=300))
    shuffled = rng.permutation(slots)
    paired = pair_by_attribute(shuffled, parent_x[shuffled], child_x, 0.9, rng)
    assert abs(_spearman(parent_x[paired], child_x) - 0.9) < 0.05
    assert abs(_spearman(parent_x[shuffled], child_x)) < 0.1


def test_secondary_fk_keeps_the_price_of_the_product() -> None:
    """order_lines → orders drives; the product (a secondary FK) must still fit the line's price."""
    rng = np.random.default_rng(1)
    n_products, n_orders = 200, 600
    products = pd.DataFrame({"product_id": np.arange(1, n_products + 1),
                             "list_price": np.round(rng.lognormal(3, 1, n_products), 2)})
    orders = pd.DataFrame({"order_id": np.arange(1, n_orders + 1), "discount": rng.random(n_orders) * 0.2})
    lines = pd.DataFrame({"order_id": np.repeat(orders["order_id"], rng.integers(1, 6, n_orders)).to_numpy()})
    lines["line_id"] = np.arange(1, len(lines) + 1)
    lines["product_id"] = rng.integers(1, n_products + 1, len(lines))
    lines["unit_price"] = np.round(products["list_price"].to_numpy()[lines["product_id"] - 1]
                                   * (1 - orders["discount"].to_numpy()[lines["order_id"] - 1]), 2)
    frames = {"products": products, "orders": orders, "lines": lines}
    schema = schema_from_dataframes(frames, primary_keys={"products": "product_id", "orders": "order_id",
                                                           "lines": "line_id"},
                                    foreign_keys=[{"child": "lines", "columns": "order_id", "parent": "orders",
                                                   "parent_columns": "order_id"},
                                                  {"child": "lines", "columns": "product_id", "parent": "products",
                                                   "parent_columns": "product_id"}])
    model = relsynth.fit(frames, schema=schema)
    stats = [s for s in model.fk_stats.values() if s.match]
    assert stats and stats[0].match[:2] == ["list_price", "unit_price"]
    synth = model.sample(seed=2)
    joined = synth["lines"].merge(synth["products"], on="product_id")
    real_joined = lines.merge(products, on="product_id")
    score = pair_score(real_joined["list_price"], real_joined["unit_price"],
                       joined["list_price"], joined["unit_price"], "float", "float")["score"]
    assert _spearman(joined["list_price"].to_numpy(), joined["unit_price"].to_numpy()) > 0.9
    assert score > 0.9


def test_one_column_keys_match_as_composite_keys_do() -> None:
    """The one-column lookup finds what the merge of a composite key finds: the first parent
    row of a key, -1 for NULL or a key no parent has, numbers equal across int/float/text."""
    cases = [
        (pd.Series([1, 2, None, 5, 2], dtype="Int64"), pd.Series([2, 2, None, 1, 7], dtype="Int64")),
        (pd.Series(["1", "b", None], dtype=object), pd.Series([1.0, None, 3.0])),
        (pd.Series([np.nan, 3.0, 3.0]), pd.Series([np.nan, 3.0])),
        (pd.Series(["x", "y"], dtype=object), pd.Series(["y", "x", "x"], dtype=object)),
    ]
    for child_key, parent_key in cases:
        child, parent = pd.DataFrame({"a": child_key, "b": child_key}), pd.DataFrame({"a": parent_key, "b": parent_key})
        one, composite = match_rows(child, ["a"], parent, ["a"]), match_rows(child, ["a", "b"], parent, ["a", "b"])
        assert np.array_equal(one, composite), (one, composite)
    child_key, parent_key = cases[0]
    assert match_rows(pd.DataFrame({"a": child_key}), ["a"], pd.DataFrame({"a": parent_key}), ["a"]).tolist() == \
        [3, 0, -1, -1, 0]


@pytest.mark.parametrize("values", [
    np.array([], dtype=np.int64),
    np.array([7]),
    np.array([5, -3, 5, 5, 0, -3, 2**40]),  # a wide span: sorted
    np.random.default_rng(1).integers(-50, 50, size=1000),  # a narrow one: counted
    np.random.default_rng(2).integers(0, 2**62, size=500, dtype=np.int64),
    np.array([-(2**63), 2**63 - 1, 0]),
])
def test_distinct_ints_and_int_codes_equal_np_unique(values: np.ndarray) -> None:
    expected, inverse = np.unique(values, return_inverse=True)
    assert np.array_equal(distinct_ints(values), expected)
    distinct, codes = int_codes(values)
    assert np.array_equal(distinct, expected) and distinct.dtype == values.dtype
    assert np.array_equal(codes, inverse.ravel()) and codes.dtype == np.int64
    assert np.array_equal(distinct[codes], values)


def test_rows_covered_counts_distinct_named_rows() -> None:
    assert rows_covered(np.array([3, -1, 3, 0, 7, -1])) == 3
    assert rows_covered(np.array([-1, -1])) == 0
    assert rows_covered(np.array([], dtype=np.int64)) == 0
