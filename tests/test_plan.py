"""The FK graph plan: order, drivers, cycles, self-references."""

from __future__ import annotations

from relsynth.plan import make_plan
from relsynth.schema.model import Column, ForeignKey, Schema, Table


def _t(name: str, cols: list[tuple[str, bool]], pk: list[str], fks: list[ForeignKey] = ()) -> Table:
    return Table(name, [Column(c, "integer", nullable=n) for c, n in cols], primary_key=pk, foreign_keys=list(fks))


def test_parent_first_order_and_driver() -> None:
    schema = Schema({
        "lab": _t("lab", [("id", False), ("patient_id", False)], ["id"], [ForeignKey(["patient_id"], "patient", ["id"])]),
        "patient": _t("patient", [("id", False), ("dept_id", True)], ["id"], [ForeignKey(["dept_id"], "dept", ["id"])]),
        "dept": _t("dept", [("id", False)], ["id"]),
    })
    plan = make_plan(schema)
    assert plan.order == ["dept", "patient", "lab"]
    assert plan.tables["lab"].driver.ref_table == "patient"
    assert plan.tables["patient"].depth == 1 and plan.tables["lab"].depth == 2
    assert plan.children("patient") == [("lab", plan.tables["lab"].driver)]
    assert plan.cycles == [] and plan.broken == []


def test_multi_parent_driver_prefers_not_null_then_deepest() -> None:
    schema = Schema({
        "a": _t("a", [("id", False)], ["id"]),
        "b": _t("b", [("id", False), ("a_id", False)], ["id"], [ForeignKey(["a_id"], "a", ["id"])]),
        "c": _t("c", [("id", False), ("a_id", False), ("b_id", False), ("x_id", True)], ["id"], [
            ForeignKey(["a_id"], "a", ["id"]), ForeignKey(["b_id"], "b", ["id"]), ForeignKey(["x_id"], "b", ["id"])]),
    })
    tp = make_plan(schema).tables["c"]
    assert tp.driver.columns == ["b_id"]
    assert sorted(fk.columns[0] for fk in tp.secondary) == ["a_id", "x_id"]


def test_self_reference_is_data_not_a_cycle() -> None:
    schema = Schema({"emp": _t("emp", [("id", False), ("boss", True)], ["id"], [ForeignKey(["boss"], "emp", ["id"])])})
    plan = make_plan(schema)
    assert plan.order == ["emp"]
    assert plan.tables["emp"].self_refs[0].columns == ["boss"]
    assert plan.tables["emp"].driver is None and plan.cycles == []


def test_not_null_cycle_is_broken_and_reported() -> None:
    # sakila: store.manager_staff_id -> staff and staff.store_id -> store, both NOT NULL.
    schema = Schema({
        "store": _t("store", [("id", False), ("manager", False)], ["id"], [ForeignKey(["manager"], "staff", ["id"])]),
        "staff": _t("staff", [("id", False), ("store_id", False)], ["id"], [ForeignKey(["store_id"], "store", ["id"])]),
    })
    plan = make_plan(schema)
    assert plan.cycles == [["store", "staff"]]
    assert len(plan.broken) == 1
    child, fk = plan.broken[0]
    assert fk in plan.tables[child].deferred
    assert set(plan.order) == {"store", "staff"}
    as_dict = plan.to_dict()
    assert as_dict["cycles"] == [["store", "staff"]] and len(as_dict["broken"]) == 1


def test_nullable_edge_is_preferred_for_breaking() -> None:
    schema = Schema({
        "a": _t("a", [("id", False), ("b_id", False)], ["id"], [ForeignKey(["b_id"], "b", ["id"])]),
        "b": _t("b", [("id", False), ("a_id", True)], ["id"], [ForeignKey(["a_id"], "a", ["id"])]),
    })
    plan = make_plan(schema)
    assert [(t, fk.columns) for t, fk in plan.broken] == [("b", ["a_id"])]
    assert plan.order == ["b", "a"]
