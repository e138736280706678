"""Self-referencing FKs: the learned tree shape (roots, depth, fan-out) survives synthesis.

Tolerances, from what the generator does and what was measured (40 seeds of the org chart, 20
of a 5,000-row random tree with 19 levels):

- depth histogram: the level sizes are scaled shares cut by systematic sampling, so each level is
  within one row of ``share × n`` (measured: exact); the tests allow 1 row (+1% of n for the
  composite/grouped cases, where every group is cut on its own);
- roots and max depth: equal (within one row for roots);
- share of nodes with children at each level: within one node (stochastic rounding);
- mean fan-out at each level: follows from the two above (measured: exact); allowed 5%;
- fan-out distribution at level 1 of the org chart (105 parents, Pareto tail): KS distance to
  the source measured 0.13 on average, 0.28 at worst; allowed 0.35. The maximum fan-out of a
  heavy tail swings (measured 0.2× to 1.2× the source's), so it is only checked to be large.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

import relsynth
from relsynth.models.relational import FKStats, fit_model, load_model
from relsynth.schema.dataframes import schema_from_dataframes
from relsynth.transform.keys import match_rows
from relsynth.transform.trees import TreeStats, fit_tree, grow_forest, random_forest, tree_depths

from conftest import dataset


# ---------------------------------------------------------------------- helpers
def ancestry_depths(parent: np.ndarray) -> np.ndarray:
    """Depth of every row by walking up (independent of relsynth's pointer jumping).

    ``parent[i]``: parent row, -1 or ``i`` for a root. Fails if a row is its own ancestor or
    sits under a cycle.
    """
    n = parent.size
    idx = np.arange(n)
    up = np.where((parent < 0) | (parent == idx), -1, parent)
    anc = up.copy()
    depth = np.zeros(n, dtype=np.int64)
    for _ in range(n + 1):
        live = anc >= 0
        if not live.any():
            return depth
        assert not (anc[live] == idx[live]).any(), "a row is its own ancestor"
        depth[live] += 1
        anc[live] = up[anc[live]]
    raise AssertionError("a cycle in the tree")


def shape(parent: np.ndarray) -> dict:
    """Roots, depth histogram and, per level, share of nodes with children and their fan-outs."""
    depth = ancestry_depths(parent)
    root = (parent < 0) | (parent == np.arange(parent.size))
    kids = np.bincount(parent[~root], minlength=parent.size)
    levels = int(depth.max()) if depth.size else 0
    return {
        "roots": int(root.sum()),
        "max_depth": levels,
        "hist": np.bincount(depth, minlength=levels + 1),
        "with_kids": [int((kids[depth == d] > 0).sum()) for d in range(levels)],
        "fanout": [kids[(depth == d) & (kids > 0)] for d in range(levels)],
    }


def assert_same_shape(real: dict, synth: dict, scale: float = 1.0, slack: float = 0.0) -> None:
    n = synth["hist"].sum()
    assert synth["max_depth"] == real["max_depth"]
    assert abs(synth["roots"] - real["roots"] * scale) <= 1 + slack * n
    assert np.abs(synth["hist"] - real["hist"] * scale).max() <= 1 + slack * n, (synth["hist"], real["hist"])
    for d in range(real["max_depth"]):
        assert abs(synth["with_kids"][d] - real["with_kids"][d] * scale) <= 1 + slack * n
        assert synth["fanout"][d].mean() == pytest.approx(real["fanout"][d].mean(), rel=0.05 + slack * 5)


def self_rows(frame: pd.DataFrame, columns: list[str], ref: list[str]) -> np.ndarray:
    return match_rows(frame, columns, frame, ref)


def org_chart(seed: int = 0) -> pd.DataFrame:
    """2,000 employees: 10 heads with Zipf-like teams, 190 managers (40% without reports, the rest
    with Pareto-tailed teams), 1,800 staff; rows shuffled so ids do not follow levels."""
    rng = np.random.default_rng(seed)
    n0, n1, n2 = 10, 190, 1800
    w0 = np.array([60, 40, 25, 20, 15, 10, 8, 6, 4, 2], dtype=float)
    mid = rng.choice(n0, size=n1, p=w0 / w0.sum())
    w1 = np.where(rng.random(n1) < 0.6, rng.pareto(1.1, n1) + 0.5, 0.0)
    leaf = n0 + rng.choice(n1, size=n2, p=w1 / w1.sum())
    boss = np.concatenate([np.full(n0, -1), mid, leaf])
    perm = rng.permutation(boss.size)
    inv = np.argsort(perm)
    boss = np.where(boss[perm] < 0, -1, inv[np.maximum(boss[perm], 0)])
    ids = np.arange(1, boss.size + 1) * 3
    return pd.DataFrame({
        "emp_id": ids,
        "boss_id": pd.Series(ids[np.maximum(boss, 0)], dtype="Int64").mask(boss < 0),
        "salary": rng.lognormal(10, 0.3, boss.size).round(2),
    })


def one_table(frame: pd.DataFrame, pk: str | list[str], fk: list[str], ref: list[str], name: str = "t"):
    schema = schema_from_dataframes({name: frame}, primary_keys={name: pk}, foreign_keys=[
        {"child": name, "columns": fk, "parent": name, "parent_columns": ref}])
    return schema, fit_model(schema, {name: frame}, seed=0)


# ---------------------------------------------------------------------- fit_tree / grow_forest
def test_fit_tree_learns_levels_and_fanout() -> None:
    #        0           5 (self-pointing root)
    #      / | \         |
    #     1  2  3        6
    #     |
    #     4
    parent = np.array([-1, 0, 0, 0, 1, 5, 5])
    stats, on_cycle = fit_tree(parent, np.random.default_rng(0))
    assert on_cycle == 0
    np.testing.assert_allclose(stats.depth_share, [2 / 7, 4 / 7, 1 / 7])
    np.testing.assert_allclose(stats.parent_share, [1.0, 0.25])
    assert list(stats.fanout[0].values) == [1.0, 3.0] and list(stats.fanout[1].values) == [1.0]
    assert stats.self_root == 0.5


def test_cycles_in_source_are_roots_and_counted() -> None:
    # 0 <- 1 <- 2 is a tree; 3 -> 4 -> 5 -> 3 a cycle with 6 hanging under it; 7..2006 one long cycle.
    long = np.roll(np.arange(7, 2007), 1)
    parent = np.concatenate([[-1, 0, 1, 4, 5, 3, 5], long])
    depth, root, on_cycle = tree_depths(parent)
    assert on_cycle == 3 + 2000
    assert root[[0, 3, 4, 5]].all() and root[7:].all()
    assert depth[6] == 1 and depth[2] == 2
    stats, counted = fit_tree(parent, np.random.default_rng(0))
    assert counted == on_cycle and stats.max_depth == 2


def test_grow_forest_reproduces_a_deep_tree() -> None:
    source = random_forest(5000, 0.01, np.random.default_rng(3))  # ~19 levels
    real = shape(source)
    stats, _ = fit_tree(source, np.random.default_rng(0))
    for seed in range(3):
        assert_same_shape(real, shape(grow_forest(stats, 5000, np.random.default_rng(seed))))
    assert_same_shape(real, shape(grow_forest(stats, 10000, np.random.default_rng(9))), scale=2.0)


def test_grow_forest_stays_within_groups() -> None:
    source = random_forest(3000, 0.05, np.random.default_rng(1))
    stats, _ = fit_tree(source, np.random.default_rng(0))
    groups = np.random.default_rng(2).integers(0, 40, 3000)
    parent = grow_forest(stats, 3000, np.random.default_rng(4), groups=groups)
    ancestry_depths(parent)
    child = parent >= 0
    assert (groups[parent[child]] == groups[child]).all()
    assert np.unique(groups[~child]).size == 40  # every group has a root


def test_unique_self_reference_makes_chains() -> None:
    source = np.concatenate([[-1] * 50, np.arange(0, 950)])  # 50 chains of 20 versions
    stats, _ = fit_tree(source, np.random.default_rng(0))
    parent = grow_forest(stats, 1000, np.random.default_rng(1), unique=True)
    ancestry_depths(parent)
    assert np.bincount(parent[parent >= 0]).max() == 1
    assert (parent < 0).sum() == 50


def test_not_null_roots_point_at_themselves() -> None:
    stats, _ = fit_tree(np.array([0, 0, 0, 3, 3]), np.random.default_rng(0))
    assert stats.self_root == 1.0
    parent = grow_forest(stats, 50, np.random.default_rng(0), nullable=True)
    root = parent == np.arange(50)
    assert (parent >= 0).all() and root.sum() == 20
    fallback = random_forest(50, 0.4, np.random.default_rng(0), nullable=False)
    assert (fallback >= 0).all() and (fallback == np.arange(50)).any()


# ---------------------------------------------------------------------- fitted models
@pytest.fixture(scope="module")
def org() -> tuple[pd.DataFrame, object, object]:
    frame = org_chart()
    schema, model = one_table(frame, "emp_id", ["boss_id"], ["emp_id"], name="emp")
    return frame, schema, model


def test_org_chart_shape_survives(org) -> None:
    frame, _, model = org
    real = shape(self_rows(frame, ["boss_id"], ["emp_id"]))
    assert real["roots"] == 10 and list(real["hist"]) == [10, 190, 1800]
    for seed in (0, 1):
        out = model.sample(seed=seed)["emp"]
        synth = shape(self_rows(out, ["boss_id"], ["emp_id"]))
        assert_same_shape(real, synth)
        assert ks_2samp(real["fanout"][1], synth["fanout"][1]).statistic < 0.35
        assert synth["fanout"][1].max() > 5 * np.median(synth["fanout"][1])  # still skewed
        assert out["boss_id"].isna().sum() == synth["roots"]


def test_org_chart_at_scale_two(org) -> None:
    frame, _, model = org
    real = shape(self_rows(frame, ["boss_id"], ["emp_id"]))
    out = model.sample(seed=3, scale=2.0)["emp"]
    assert len(out) == 4000
    assert_same_shape(real, shape(self_rows(out, ["boss_id"], ["emp_id"])), scale=2.0)


def test_save_load_keeps_tree_stats(org, tmp_path) -> None:
    _, _, model = org
    path = model.save(tmp_path / "m.relsynth")
    back = load_model(path)
    a, b = model.fk_stats["emp#0"].tree, back.fk_stats["emp#0"].tree
    assert isinstance(b, TreeStats)
    np.testing.assert_array_equal(a.depth_share, b.depth_share)
    np.testing.assert_array_equal(a.parent_share, b.parent_share)
    assert b.self_root == a.self_root and len(b.fanout) == len(a.fanout)
    for fa, fb in zip(a.fanout, b.fanout):
        np.testing.assert_array_equal(fa.values, fb.values)
        np.testing.assert_array_equal(fa.cum, fb.cum)
    pd.testing.assert_frame_equal(model.sample(seed=5)["emp"], back.sample(seed=5)["emp"])


def test_model_saved_without_tree_stats_still_loads(org, tmp_path) -> None:
    _, _, model = org
    path = model.save(tmp_path / "m.relsynth")
    with zipfile.ZipFile(path) as zf:
        doc = json.loads(zf.read("model.json"))
        arrays = zf.read("arrays.npz")
    for state in doc["fk_stats"].values():
        state.pop("tree", None)
    old = tmp_path / "old.relsynth"
    with zipfile.ZipFile(old, "w") as zf:
        zf.writestr("model.json", json.dumps(doc))
        zf.writestr("arrays.npz", arrays)
    back = load_model(old)
    assert back.fk_stats["emp#0"].tree is None
    assert "tree" not in FKStats.from_state(doc["fk_stats"]["emp#0"]).to_state()
    out = back.sample(seed=1)["emp"]
    synth = shape(self_rows(out, ["boss_id"], ["emp_id"]))  # the random forest: acyclic
    assert synth["roots"] >= 1


def test_flat_category_tree() -> None:
    rng = np.random.default_rng(0)
    parents = np.repeat(np.arange(5), [3, 14, 8, 12, 23])
    frame = pd.DataFrame({
        "cat_id": np.arange(1, 66),
        "parent_id": pd.array([pd.NA] * 5 + list(parents + 1), dtype="Int64"),
        "name": [f"Category {i}" for i in range(65)],
        "rank": rng.integers(0, 100, 65),
    })
    _, model = one_table(frame, "cat_id", ["parent_id"], ["cat_id"])
    real = shape(self_rows(frame, ["parent_id"], ["cat_id"]))
    for seed in range(3):
        synth = shape(self_rows(model.sample(seed=seed)["t"], ["parent_id"], ["cat_id"]))
        assert_same_shape(real, synth)
        assert list(synth["hist"]) == [5, 60]


def test_not_null_self_reference_with_self_pointing_roots() -> None:
    frame = org_chart(1)
    boss = frame["boss_id"].copy()
    boss[boss.isna()] = frame.loc[boss.isna(), "emp_id"]
    frame["boss_id"] = boss.astype("int64")
    schema, model = one_table(frame, "emp_id", ["boss_id"], ["emp_id"])
    assert not schema.tables["t"].column("boss_id").nullable
    assert model.fk_stats["t#0"].tree.self_root == 1.0
    real = shape(self_rows(frame, ["boss_id"], ["emp_id"]))
    out = model.sample(seed=2)["t"]
    assert out["boss_id"].notna().all()
    rows = self_rows(out, ["boss_id"], ["emp_id"])
    assert (rows >= 0).all()
    assert_same_shape(real, shape(rows))
    assert (rows == np.arange(len(out))).sum() == 10


def test_composite_self_reference() -> None:
    """(p_region, p_code) -> (region, code): the parent may be in any region."""
    rng = np.random.default_rng(0)
    n = 600
    region = np.array(["north", "south", "east"])[rng.integers(0, 3, n)]
    code = np.arange(n) * 7 + 100
    par = np.full(n, -1)
    par[30:130] = rng.integers(0, 30, 100)
    par[130:] = rng.integers(30, 130, n - 130)
    frame = pd.DataFrame({
        "region": region, "code": code,
        "p_region": pd.Series([None if p < 0 else region[p] for p in par], dtype=object),
        "p_code": pd.array([pd.NA if p < 0 else code[p] for p in par], dtype="Int64"),
        "x": rng.normal(size=n),
    })
    _, model = one_table(frame, ["region", "code"], ["p_region", "p_code"], ["region", "code"])
    real = shape(self_rows(frame, ["p_region", "p_code"], ["region", "code"]))
    out = model.sample(seed=1)["t"]
    rows = self_rows(out, ["p_region", "p_code"], ["region", "code"])
    assert ((rows >= 0) | (out["p_region"].isna() & out["p_code"].isna()).to_numpy()).all()
    synth = shape(rows)
    # The UNIQUE repair drops a few (region, code) duplicates before the tree is grown.
    assert_same_shape(real, synth, scale=len(out) / n, slack=0.01)


def test_composite_self_reference_sharing_the_tenant_column() -> None:
    """(tenant, parent_id) -> (tenant, id): every parent is in the row's own tenant."""
    rng = np.random.default_rng(0)
    rows = []
    for t in range(60):
        size = int(rng.integers(5, 40))
        par = np.full(size, -1)
        par[1:] = [rng.integers(0, min(i, 3)) for i in range(1, size)]
        rows += [(t, i, None if par[i] < 0 else int(par[i]), float(rng.normal())) for i in range(size)]
    node = pd.DataFrame(rows, columns=["tenant", "id", "parent_id", "x"])
    node["parent_id"] = node["parent_id"].astype("Int64")
    tenant = pd.DataFrame({"tenant": np.arange(60), "name": [f"t{i}" for i in range(60)]})
    schema = schema_from_dataframes({"tenant": tenant, "node": node},
                                    primary_keys={"tenant": "tenant", "node": ["tenant", "id"]},
                                    foreign_keys=[
                                        {"child": "node", "columns": ["tenant"], "parent": "tenant"},
                                        {"child": "node", "columns": ["tenant", "parent_id"], "parent": "node",
                                         "parent_columns": ["tenant", "id"]}])
    model = fit_model(schema, {"tenant": tenant, "node": node}, seed=0)
    out = model.sample(seed=1)["node"]
    assert not out[["tenant", "id"]].duplicated().any()
    parent = self_rows(out, ["tenant", "parent_id"], ["tenant", "id"])
    assert ((parent >= 0) | out["parent_id"].isna().to_numpy()).all()
    linked = parent >= 0
    assert (out["tenant"].to_numpy()[parent[linked]] == out["tenant"].to_numpy()[linked]).all()
    synth = shape(parent)
    real = shape(self_rows(node, ["tenant", "parent_id"], ["tenant", "id"]))
    assert synth["max_depth"] == real["max_depth"]
    assert set(out.loc[out["parent_id"].isna(), "tenant"]) == set(out["tenant"])  # a root per tenant
    # Each tenant is cut on its own from the global shares: levels within 15% of the source's.
    share = lambda s: s["hist"] / s["hist"].sum()  # noqa: E731
    assert np.abs(share(synth) - share(real)).max() < 0.15 * share(real).max()


def test_composite_key_without_a_driver_numbers_the_id_within_the_tenant() -> None:
    """(tenant, id) with no tenant table: tenant is learned, id numbered within it, no row lost."""
    rng = np.random.default_rng(0)
    rows = []
    for t in range(60):
        size = int(rng.integers(5, 60))
        rows += [(t, i, None if i == 1 else int(rng.integers(1, i)), float(rng.normal())) for i in range(1, size + 1)]
    node = pd.DataFrame(rows, columns=["tenant", "id", "parent_id", "x"]).astype({"parent_id": "Int64"})
    schema = schema_from_dataframes({"node": node}, primary_keys={"node": ["tenant", "id"]},
                                    foreign_keys=[{"child": "node", "columns": ["tenant", "parent_id"],
                                                   "parent": "node", "parent_columns": ["tenant", "id"]}])
    out = fit_model(schema, {"node": node}, seed=0).sample(seed=1)["node"]
    assert len(out) == len(node)
    assert out["tenant"].notna().all() and out["tenant"].nunique() > 40
    assert not out[["tenant", "id"]].duplicated().any()
    parent = self_rows(out, ["tenant", "parent_id"], ["tenant", "id"])
    assert ((parent >= 0) | out["parent_id"].isna().to_numpy()).all()


def test_cycle_in_source_data() -> None:
    frame = org_chart(2)
    boss = frame["boss_id"].to_numpy(dtype=object)
    ids = frame["emp_id"].to_numpy()
    # Three managers' chain closed into a loop, plus a two-row loop among staff.
    a, b, c, d, e = ids[100], ids[200], ids[300], ids[400], ids[500]
    boss[100], boss[200], boss[300], boss[400], boss[500] = b, c, a, e, d
    frame["boss_id"] = pd.array(boss, dtype="Int64")
    schema, model = one_table(frame, "emp_id", ["boss_id"], ["emp_id"])
    assert any("cycle" in note for note in model.notes), model.notes
    depth, root, on_cycle = tree_depths(self_rows(frame, ["boss_id"], ["emp_id"]))
    assert on_cycle == 5
    out = model.sample(seed=0)["t"]
    synth = shape(self_rows(out, ["boss_id"], ["emp_id"]))  # fails on any cycle
    assert synth["roots"] == int(root.sum()) == 15
    assert list(synth["hist"]) == list(np.bincount(depth))


# ---------------------------------------------------------------------- real sample databases
@pytest.mark.parametrize(("name", "table", "fk", "ref"), [
    ("chinook", "Employee", "ReportsTo", "EmployeeId"),
    ("adventureworkslt", "ProductCategory", "ParentProductCategoryID", "ProductCategoryID"),
])
def test_sample_database_tree_survives_clone(name: str, table: str, fk: str, ref: str, sqlite_url: str) -> None:
    src = dataset(name)
    relsynth.clone(f"sqlite:///{src}", sqlite_url, seed=4)
    query = f'SELECT "{ref}", "{fk}" FROM "{table}"'
    real_frame = pd.read_sql(query, sqlite3.connect(src))
    out = pd.read_sql(query, sqlite3.connect(sqlite_url.removeprefix("sqlite:///")))
    real = shape(self_rows(real_frame, [fk], [ref]))
    synth = shape(self_rows(out, [fk], [ref]))
    assert_same_shape(real, synth)
    assert list(synth["hist"]) == list(real["hist"])  # chinook [1, 2, 5]; adventureworkslt [4, 37]
