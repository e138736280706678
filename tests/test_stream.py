"""Sampling and writing in partitions (``Model.stream``): the output never exists whole in memory,
yet keys stay unique, every FK points at a written row and the distributions are those of a
whole draw."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import relsynth
from relsynth.cli import app
from relsynth.data import build_hospital, hospital_schema
from relsynth.evaluate.integrity import frame_integrity, violations
from relsynth.evaluate.metrics import fidelity_summary
from relsynth.models.relational import fit_model, load_model
from relsynth.schema.model import Column, ForeignKey, Schema, Table
from relsynth.sinks.ddl import TargetDDL

from conftest import dataset


@pytest.fixture(scope="module")
def real() -> dict[str, pd.DataFrame]:
    return build_hospital(2000, seed=0)


@pytest.fixture(scope="module")
def model(real: dict[str, pd.DataFrame]):
    return fit_model(hospital_schema(), real, seed=0)


def _collect(stream) -> dict[str, pd.DataFrame]:
    pieces: dict[str, list[pd.DataFrame]] = {}
    for name, frame in stream:
        pieces.setdefault(name, []).append(frame)
    return {n: pd.concat(p, ignore_index=True) for n, p in pieces.items()}


def test_partitions_keep_keys_integrity_and_sizes(model, real) -> None:
    stream = model.stream(seed=4, partition_rows=2_000)
    out = _collect(stream)
    assert stream.partitions > 1
    assert stream.materialized == {"departments"}  # the rest is streamed under it
    assert violations(frame_integrity(model.schema, out)) == 0
    for name, frame in out.items():
        pk = model.schema.tables[name].primary_key
        assert not frame.duplicated(pk).any(), f"{name}: a key repeats across partitions"
        assert abs(len(frame) - len(real[name])) <= 0.02 * len(real[name]) + 1
    whole = model.sample(seed=4)
    streamed = fidelity_summary(model.schema, real, out)
    drawn = fidelity_summary(model.schema, real, whole)
    for name in ("patients", "lab_results", "treatments"):
        assert streamed[name].shape > drawn[name].shape - 0.02
        assert streamed[name].pair_trend > drawn[name].pair_trend - 0.02
        assert streamed[name].cardinality > 0.95


def test_same_seed_and_partition_size_same_data(model) -> None:
    a = _collect(model.stream(seed=9, partition_rows=3_000))
    b = _collect(model.stream(seed=9, partition_rows=3_000))
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])


def test_one_partition_is_the_whole_sample(model) -> None:
    out = _collect(model.stream(seed=2, partition_rows=10**9))
    whole = model.sample(seed=2)
    for name in whole:
        pd.testing.assert_frame_equal(out[name], whole[name])


def _orders_schema() -> tuple[Schema, dict[str, pd.DataFrame]]:
    """customers → orders → lines, lines → products as a secondary FK with a skewed degree."""
    rng = np.random.default_rng(0)
    n_c, n_p = 600, 80
    customers = pd.DataFrame({"id": np.arange(1, n_c + 1), "segment": rng.choice(["a", "b", "c"], n_c)})
    n_o = 3000
    orders = pd.DataFrame({"id": np.arange(1, n_o + 1), "customer_id": rng.integers(1, n_c + 1, n_o),
                           "total": rng.gamma(2.0, 50.0, n_o).round(2)})
    n_l = 12000
    popularity = rng.zipf(1.6, n_p).astype(float)
    products = pd.DataFrame({"id": np.arange(1, n_p + 1), "price": rng.gamma(3.0, 10.0, n_p).round(2)})
    lines = pd.DataFrame({"id": np.arange(1, n_l + 1), "order_id": rng.integers(1, n_o + 1, n_l),
                          "product_id": rng.choice(products["id"], n_l, p=popularity / popularity.sum()),
                          "qty": rng.integers(1, 10, n_l)})
    schema = Schema(tables={
        "customers": Table("customers", [Column("id", "integer", nullable=False), Column("segment", "string")],
                           primary_key=["id"]),
        "products": Table("products", [Column("id", "integer", nullable=False), Column("price", "float")],
                          primary_key=["id"]),
        "orders": Table("orders", [Column("id", "integer", nullable=False), Column("customer_id", "integer", nullable=False),
                                   Column("total", "float")], primary_key=["id"],
                        foreign_keys=[ForeignKey(["customer_id"], "customers", ["id"])]),
        "lines": Table("lines", [Column("id", "integer", nullable=False), Column("order_id", "integer", nullable=False),
                                 Column("product_id", "integer", nullable=False), Column("qty", "integer")],
                       primary_key=["id"], foreign_keys=[ForeignKey(["order_id"], "orders", ["id"]),
                                                          ForeignKey(["product_id"], "products", ["id"])]),
    })
    return schema, {"customers": customers, "products": products, "orders": orders, "lines": lines}


def test_secondary_parent_is_materialized_and_keeps_its_degrees() -> None:
    schema, frames = _orders_schema()
    model = fit_model(schema, frames, seed=0)
    stream = model.stream(seed=1, partition_rows=1_500)
    out = _collect(stream)
    assert "products" in stream.materialized
    assert {"customers", "orders", "lines"}.isdisjoint(stream.materialized)
    assert stream.partitions >= 5
    assert violations(frame_integrity(schema, out)) == 0
    # Degrees are drawn once for the whole output, not once per partition: the hubs stay hubs.
    real_deg = np.sort(frames["lines"]["product_id"].value_counts().reindex(frames["products"]["id"], fill_value=0))
    synth_deg = np.sort(out["lines"]["product_id"].value_counts().reindex(out["products"]["id"], fill_value=0))
    assert synth_deg.max() > 0.5 * real_deg.max()
    assert fidelity_summary(schema, frames, out)["lines"].cardinality > 0.9


def _rentals_schema(agree: float) -> tuple[Schema, dict[str, pd.DataFrame]]:
    """Customers, their rentals, and one payment per rental whose customer is the rental's
    customer in ``agree`` of the rows (sakila's payment.customer_id); a fifth of the customers
    rent nothing, so the rental is each payment's driver parent."""
    rng = np.random.default_rng(3)
    n_c, n_r = 500, 4000
    customers = pd.DataFrame({"id": np.arange(1, n_c + 1), "segment": rng.choice(["a", "b"], n_c)})
    renters = rng.choice(customers["id"], int(0.8 * n_c), replace=False)
    rentals = pd.DataFrame({"id": np.arange(1, n_r + 1), "customer_id": rng.choice(renters, n_r),
                            "days": rng.integers(1, 10, n_r)})
    payer = np.where(rng.random(n_r) < agree, rentals["customer_id"], rng.choice(renters, n_r))
    payments = pd.DataFrame({"id": np.arange(1, n_r + 1), "rental_id": rentals["id"], "customer_id": payer,
                             "amount": rng.gamma(2.0, 2.0, n_r).round(2)})
    key = [Column("id", "integer", nullable=False)]
    schema = Schema(tables={
        "customers": Table("customers", key + [Column("segment", "string")], primary_key=["id"]),
        "rentals": Table("rentals", key + [Column("customer_id", "integer", nullable=False), Column("days", "integer")],
                         primary_key=["id"], foreign_keys=[ForeignKey(["customer_id"], "customers", ["id"])]),
        "payments": Table("payments", key + [Column("rental_id", "integer", nullable=False),
                                             Column("customer_id", "integer", nullable=False), Column("amount", "float")],
                          primary_key=["id"], foreign_keys=[ForeignKey(["customer_id"], "customers", ["id"]),
                                                             ForeignKey(["rental_id"], "rentals", ["id"])]),
    })
    return schema, {"customers": customers, "rentals": rentals, "payments": payments}


def _payer_is_renter(out: dict[str, pd.DataFrame]) -> float:
    joined = out["payments"].merge(out["rentals"], left_on="rental_id", right_on="id", suffixes=("", "_rental"))
    assert len(joined) == len(out["payments"])
    return float((joined["customer_id"] == joined["customer_id_rental"]).mean())


@pytest.mark.parametrize("agree", [1.0, 0.95, 0.5])
def test_a_secondary_fk_that_names_the_driver_parents_parent_follows_it(agree: float, tmp_path: Path) -> None:
    schema, frames = _rentals_schema(agree)
    model = fit_model(schema, frames, seed=0)
    assert schema.tables["payments"].foreign_keys[model.drivers["payments"]].ref_table == "rentals"
    follows = model.fk_stats["payments#0"].follows
    if agree < 0.9:  # below FOLLOW_MIN_SHARE: assigned by its degrees like any secondary FK
        assert follows is None
        assert _payer_is_renter(model.sample(seed=1)) < 0.2
        return
    assert follows[0] == 0 and follows[1] == pytest.approx(_payer_is_renter(frames))
    model.save(tmp_path / "m.rsm")
    loaded = load_model(tmp_path / "m.rsm")
    assert loaded.fk_stats["payments#0"].follows == follows
    whole = loaded.sample(seed=1)
    stream = model.stream(seed=1, partition_rows=1_000)
    parts = _collect(stream)
    assert stream.partitions >= 3
    for out in (whole, parts):
        assert violations(frame_integrity(schema, out)) == 0
        assert _payer_is_renter(out) == pytest.approx(agree, abs=0.02)
        # The payments that do not follow still spread over the customers as learned.
        assert out["payments"]["customer_id"].nunique() > 0.5 * frames["payments"]["customer_id"].nunique()


def test_a_followed_fk_keeps_its_draw_where_the_parents_fk_is_null() -> None:
    schema, frames = _rentals_schema(1.0)
    gone = np.random.default_rng(0).random(len(frames["rentals"])) < 0.3  # rentals of no customer
    frames["rentals"]["customer_id"] = frames["rentals"]["customer_id"].astype("Int64").mask(gone)
    schema.tables["rentals"].columns[1] = Column("customer_id", "integer", nullable=True)
    model = fit_model(schema, frames, seed=0)
    assert model.fk_stats["payments#0"].follows == [0, 1.0]  # the share counts rentals with a customer
    out = model.sample(seed=2)
    assert violations(frame_integrity(schema, out)) == 0
    joined = out["payments"].merge(out["rentals"], left_on="rental_id", right_on="id", suffixes=("", "_rental"))
    named = joined["customer_id_rental"].notna()
    assert 0.2 < 1 - named.mean() < 0.4 and joined["customer_id"].notna().all()
    assert (joined["customer_id"][named] == joined["customer_id_rental"][named]).all()


def test_a_secondary_fk_that_names_the_same_row_as_a_sibling_fk_copies_it(tmp_path: Path) -> None:
    """Orders billed to their ship-to address in 95% of the rows (AdventureWorksLT: all 32)."""
    rng = np.random.default_rng(4)
    n_a, n_c, n_o = 800, 300, 3000
    addresses = pd.DataFrame({"id": np.arange(1, n_a + 1), "zone": rng.choice(["n", "s"], n_a)})
    customers = pd.DataFrame({"id": np.arange(1, n_c + 1)})
    ship = rng.integers(1, n_a + 1, n_o)
    orders = pd.DataFrame({"id": np.arange(1, n_o + 1), "customer_id": rng.integers(1, n_c + 1, n_o),
                           "ship_to": ship, "bill_to": np.where(rng.random(n_o) < 0.95, ship, rng.integers(1, n_a + 1, n_o)),
                           "total": rng.gamma(2.0, 50.0, n_o).round(2)})
    key = [Column("id", "integer", nullable=False)]
    address = ["id"]
    schema = Schema(tables={
        "addresses": Table("addresses", key + [Column("zone", "string")], primary_key=["id"]),
        "customers": Table("customers", list(key), primary_key=["id"]),
        "orders": Table("orders", key + [Column(c, "integer", nullable=False) for c in ("customer_id", "ship_to", "bill_to")]
                        + [Column("total", "float")], primary_key=["id"],
                        foreign_keys=[ForeignKey(["customer_id"], "customers", ["id"]),
                                      ForeignKey(["ship_to"], "addresses", address),
                                      ForeignKey(["bill_to"], "addresses", address)]),
    })
    frames = {"addresses": addresses, "customers": customers, "orders": orders}
    model = fit_model(schema, frames, seed=0)
    stats = model.fk_stats["orders#2"]
    assert stats.follows is None and stats.same_as[0] == 1 and stats.same_as[1] == pytest.approx(0.95, abs=0.01)
    assert model.fk_stats["orders#1"].same_as is None  # the first of the two is drawn by its degrees
    model.save(tmp_path / "m.rsm")
    assert load_model(tmp_path / "m.rsm").fk_stats["orders#2"].same_as == stats.same_as
    for out in (model.sample(seed=1), _collect(model.stream(seed=1, partition_rows=1_000))):
        assert violations(frame_integrity(schema, out)) == 0
        assert (out["orders"]["bill_to"] == out["orders"]["ship_to"]).mean() == pytest.approx(0.95, abs=0.02)


def test_a_secondary_fk_paired_with_the_driver_by_a_bridge_table_keeps_to_its_pairs(tmp_path: Path) -> None:
    """Orders shipped to one of their customer's addresses (as customer_addresses pairs them)
    in 95% of the rows; AdventureWorksLT's orders pick their customer among their billing
    address's through CustomerAddress in all 32."""
    rng = np.random.default_rng(6)
    n_c, n_o = 400, 3000
    owner = np.concatenate([np.arange(1, n_c + 1), rng.integers(1, n_c + 1, 500)])  # 1-4 addresses each
    addresses = pd.DataFrame({"id": np.arange(1, owner.size + 301), "zone": rng.choice(["n", "s"], owner.size + 300)})
    links = pd.DataFrame({"customer_id": owner, "address_id": np.arange(1, owner.size + 1)})
    customer = np.concatenate([np.arange(1, n_c + 1), rng.integers(1, n_c + 1, n_o - n_c)])
    own = links.groupby("customer_id")["address_id"].agg(list)
    ship = np.array([rng.choice(own[c]) for c in customer])
    stray = rng.random(n_o) >= 0.95
    ship[stray] = rng.integers(1, len(addresses) + 1, int(stray.sum()))
    orders = pd.DataFrame({"id": np.arange(1, n_o + 1), "customer_id": customer, "ship_to": ship,
                           "total": rng.gamma(2.0, 50.0, n_o).round(2)})
    key = [Column("id", "integer", nullable=False)]
    schema = Schema(tables={
        "customers": Table("customers", list(key), primary_key=["id"]),
        "addresses": Table("addresses", key + [Column("zone", "string")], primary_key=["id"]),
        "customer_addresses": Table("customer_addresses", [Column("customer_id", "integer", nullable=False),
                                                           Column("address_id", "integer", nullable=False)],
                                    primary_key=["customer_id", "address_id"],
                                    foreign_keys=[ForeignKey(["customer_id"], "customers", ["id"]),
                                                  ForeignKey(["address_id"], "addresses", ["id"])]),
        "orders": Table("orders", key + [Column("customer_id", "integer", nullable=False),
                                         Column("ship_to", "integer", nullable=False), Column("total", "float")],
                        primary_key=["id"], foreign_keys=[ForeignKey(["customer_id"], "customers", ["id"]),
                                                           ForeignKey(["ship_to"], "addresses", ["id"])]),
    })
    frames = {"customers": pd.DataFrame({"id": np.arange(1, n_c + 1)}), "addresses": addresses,
              "customer_addresses": links, "orders": orders}
    model = fit_model(schema, frames, seed=0)
    assert schema.tables["orders"].foreign_keys[model.drivers["orders"]].ref_table == "customers"
    within = model.fk_stats["orders#1"].within
    assert within[:3] == ["customer_addresses", 0, 1] and within[3] == pytest.approx(0.95, abs=0.01)
    model.save(tmp_path / "m.rsm")
    assert load_model(tmp_path / "m.rsm").fk_stats["orders#1"].within == within

    def held(out: dict[str, pd.DataFrame]) -> float:
        pairs = out["orders"].merge(out["customer_addresses"], left_on=["customer_id", "ship_to"],
                                    right_on=["customer_id", "address_id"], how="left", indicator=True)
        return float((pairs["_merge"] == "both").mean())

    assert held(frames) == pytest.approx(0.95, abs=0.01)
    stream = model.stream(seed=1, partition_rows=1_000)
    parts = _collect(stream)
    assert stream.partitions >= 3
    for out in (model.sample(seed=1), parts):
        assert violations(frame_integrity(schema, out)) == 0
        assert held(out) == pytest.approx(0.95, abs=0.02)


def test_a_secondary_parent_that_belongs_to_the_driver_parent_is_one_of_its_own() -> None:
    """Each ticket's contact is one of its customer's contacts: the FK's own table pairs the
    two (FKStats.within with index -1)."""
    rng = np.random.default_rng(8)
    n_c, n_t = 300, 2500
    owner = np.concatenate([np.arange(1, n_c + 1), rng.integers(1, n_c + 1, 600)])
    contacts = pd.DataFrame({"id": np.arange(1, owner.size + 1), "customer_id": owner,
                             "role": rng.choice(["buyer", "it", "ceo"], owner.size)})
    customer = np.concatenate([np.arange(1, n_c + 1), rng.integers(1, n_c + 1, n_t - n_c)])
    theirs = contacts.groupby("customer_id")["id"].agg(list)
    tickets = pd.DataFrame({"id": np.arange(1, n_t + 1), "customer_id": customer,
                            "contact_id": [rng.choice(theirs[c]) for c in customer],
                            "hours": rng.gamma(2.0, 3.0, n_t).round(1)})
    key = [Column("id", "integer", nullable=False)]
    belongs = [Column("customer_id", "integer", nullable=False)]
    schema = Schema(tables={
        "customers": Table("customers", list(key), primary_key=["id"]),
        "contacts": Table("contacts", key + belongs + [Column("role", "string")], primary_key=["id"],
                          foreign_keys=[ForeignKey(["customer_id"], "customers", ["id"])]),
        "tickets": Table("tickets", key + belongs + [Column("contact_id", "integer", nullable=False),
                                                     Column("hours", "float")], primary_key=["id"],
                         foreign_keys=[ForeignKey(["customer_id"], "customers", ["id"]),
                                       ForeignKey(["contact_id"], "contacts", ["id"])]),
    })
    frames = {"customers": pd.DataFrame({"id": np.arange(1, n_c + 1)}), "contacts": contacts, "tickets": tickets}
    model = fit_model(schema, frames, seed=0)
    assert schema.tables["tickets"].foreign_keys[model.drivers["tickets"]].ref_table == "customers"
    assert model.fk_stats["tickets#1"].within == ["contacts", 0, -1, 1.0]
    stream = model.stream(seed=1, partition_rows=800)
    parts = _collect(stream)
    assert stream.partitions >= 3
    for out in (model.sample(seed=1), parts):
        assert violations(frame_integrity(schema, out)) == 0
        joined = out["tickets"].merge(out["contacts"], left_on="contact_id", right_on="id", suffixes=("", "_contact"))
        assert len(joined) == len(out["tickets"])
        assert (joined["customer_id"] == joined["customer_id_contact"]).all()


def test_copying_an_fk_from_no_rows_leaves_the_drawn_values() -> None:
    from relsynth.sampling.relational import _copy_fk

    frame = pd.DataFrame({"id": [1, 2, 3], "customer_id": [7, 8, 9]})
    fk = ForeignKey(["customer_id"], "customers", ["id"])
    empty = pd.DataFrame({"id": pd.Series([], dtype="int64"), "customer_id": pd.Series([], dtype="int64")})
    _copy_fk(frame, fk, fk, empty, np.full(3, -1), 1.0, np.random.default_rng(0))  # free rows, no parent rows
    assert frame["customer_id"].tolist() == [7, 8, 9]


def test_int_bounds_widen_the_target_type() -> None:
    schema, frames = _orders_schema()
    plain = TargetDDL(schema, "postgresql", frames)
    wide = TargetDDL(schema, "postgresql", frames, int_bounds={("lines", "id"): 2**40})
    assert isinstance(plain.types[("lines", "id")], sa.Integer)
    assert not isinstance(plain.types[("lines", "id")], sa.BigInteger)
    assert isinstance(wide.types[("lines", "id")], sa.BigInteger)


@pytest.mark.parametrize("name", ["chinook", "sakila", "northwind", "adventureworkslt"])
def test_sample_databases_clone_in_partitions(name: str, sqlite_url: str) -> None:
    result = relsynth.clone(f"sqlite:///{dataset(name)}", sqlite_url, seed=1, partition_rows=500)
    assert result.violations == 0
    conn = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    for table, rows in result.rows_written.items():
        assert conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == rows
    conn.close()
    total = sum(result.rows_written.values()) / sum(result.rows_source.values())
    assert 0.97 < total < 1.03


@pytest.mark.postgres
def test_demo_clone_in_partitions_to_postgres(tmp_path: Path, pg_url: str) -> None:
    src = tmp_path / "hospital.db"
    from relsynth.data import write_hospital_sqlite

    write_hospital_sqlite(str(src), n_patients=2000, seed=0)
    result = relsynth.clone(f"sqlite:///{src}", pg_url, seed=1, scale=1.5, partition_rows=3_000)
    assert result.violations == 0
    assert any("partitions" in note for note in result.notes)
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        for table, rows in result.rows_written.items():
            assert conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar() == rows
    engine.dispose()
    # Cardinality of a partial table under a whole parent is not scored from one partition.
    assert result.fidelity["lab_results"].cardinality is not None


def test_cli_sample_in_partitions(tmp_path: Path, model) -> None:
    path = model.save(tmp_path / "m.rsm")
    target = f"sqlite:///{tmp_path / 'out.db'}"
    run = CliRunner().invoke(app, ["sample", str(path), "--to", target, "--seed", "3", "--partition-rows", "2000"])
    assert run.exit_code == 0, run.output
    conn = sqlite3.connect(tmp_path / "out.db")
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("SELECT count(*) FROM patients").fetchone()[0] == 2000
    conn.close()
