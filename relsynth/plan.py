"""The foreign-key graph and the generation plan.

Tables are generated parent-first. Each table is generated under at most one *driver* foreign
key: its rows are sampled as children of the synthetic parent rows, so the number of children
per parent and the child values follow the parent. The table's other foreign keys are filled
afterwards from parent keys that already exist:

- *secondary* FKs point at tables generated earlier; they are assigned so that each parent's
  degree distribution is kept;
- *self-references* point at the table itself and are filled once the table exists;
- *deferred* FKs are the edges cut to break a cycle; they are filled after every table exists,
  and the writer loads them with constraints checked at the end of the load.

Cycles and self-references are reported as data (:attr:`Plan.cycles`, :attr:`Plan.broken`),
never as errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from relsynth.schema.model import ForeignKey, Schema

__all__ = ["TablePlan", "Plan", "make_plan"]


@dataclass
class TablePlan:
    """How one table is generated."""

    name: str
    driver: ForeignKey | None = None
    secondary: list[ForeignKey] = field(default_factory=list)
    self_refs: list[ForeignKey] = field(default_factory=list)
    deferred: list[ForeignKey] = field(default_factory=list)
    depth: int = 0

    @property
    def filled(self) -> list[ForeignKey]:
        """The FKs set as the table's rows are made: the driver, then the secondary FKs in the
        order they are filled (self-references and deferred FKs come later)."""
        return ([self.driver] if self.driver is not None else []) + self.secondary


@dataclass
class Plan:
    """Parent-first order, the role of every FK, and the cycles found (with how each was broken)."""

    order: list[str]
    tables: dict[str, TablePlan]
    cycles: list[list[str]]
    broken: list[tuple[str, ForeignKey]]

    def children(self, table: str) -> list[tuple[str, ForeignKey]]:
        """Tables generated as children of ``table`` (under their driver FK), in plan order."""
        return [
            (name, tp.driver)
            for name in self.order
            if (tp := self.tables[name]).driver is not None and tp.driver.ref_table == table
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (used by ``relsynth inspect --format json``)."""
        return {
            "order": list(self.order),
            "cycles": [list(c) for c in self.cycles],
            "broken": [{"table": t, "foreign_key": fk.label} for t, fk in self.broken],
            "tables": {
                name: {
                    "depth": tp.depth,
                    "driver": tp.driver.label if tp.driver else None,
                    "secondary": [fk.label for fk in tp.secondary],
                    "self_references": [fk.label for fk in tp.self_refs],
                    "deferred": [fk.label for fk in tp.deferred],
                }
                for name, tp in self.tables.items()
            },
        }


def _break_cycles(schema: Schema, graph: nx.MultiDiGraph) -> list[tuple[str, ForeignKey]]:
    """Remove FK edges until the graph is acyclic; return the removed ones.

    Within a cycle the edge to cut is a nullable FK if there is one (it can be NULL for a
    moment, and its fill then only chooses existing parents), else the FK whose child has the
    most other FKs (it still gets a driver from another parent).
    """
    broken: list[tuple[str, ForeignKey]] = []
    while True:
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            return broken

        def cost(edge: tuple[str, str, int]) -> tuple[int, int, str]:
            parent, child, key = edge
            fk = graph.edges[parent, child, key]["fk"]
            n_other = sum(1 for _ in graph.in_edges(child)) - 1
            return (0 if schema.tables[child].fk_nullable(fk) else 1, -n_other, child)

        parent, child, key = min(cycle, key=cost)
        broken.append((child, graph.edges[parent, child, key]["fk"]))
        graph.remove_edge(parent, child, key)


def make_plan(schema: Schema, drivers: dict[str, int] | None = None) -> Plan:
    """Build the generation plan for ``schema``.

    Args:
        schema: The tables and their foreign keys.
        drivers: Optional choice of driver FK per table (index into its ``foreign_keys``), e.g.
            made from data by the fit; a choice that is not a candidate (self-reference, cycle
            break) is ignored.

    Returns:
        The parent-first order, each table's driver/secondary/self/deferred FKs, the strongly
        connected components with more than one table (cycles) and the FK edges cut to break them.
    """
    position = {name: i for i, name in enumerate(schema.tables)}
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(schema.tables)
    tables = {name: TablePlan(name) for name in schema.tables}
    for name, table in schema.tables.items():
        for i, fk in enumerate(table.foreign_keys):
            if fk.ref_table == name:
                tables[name].self_refs.append(fk)
            else:
                graph.add_edge(fk.ref_table, name, key=i, fk=fk)

    cycles = [
        sorted(component, key=position.__getitem__)
        for component in nx.strongly_connected_components(graph)
        if len(component) > 1
    ]
    cycles.sort(key=lambda c: position[c[0]])
    broken = _break_cycles(schema, graph)
    for child, fk in broken:
        tables[child].deferred.append(fk)

    order = list(nx.lexicographical_topological_sort(graph, key=position.__getitem__))
    depth: dict[str, int] = {}
    for name in order:
        parents = [p for p, _ in graph.in_edges(name)]
        depth[name] = 1 + max((depth[p] for p in parents), default=-1)
        tables[name].depth = depth[name]

    for name in order:
        candidates = [data["fk"] for _, _, data in graph.in_edges(name, data=True)]
        # Order the candidates by the table's own declaration order, so plans are stable.
        declared = schema.tables[name].foreign_keys
        candidates.sort(key=lambda fk: next(i for i, d in enumerate(declared) if d is fk))
        if not candidates:
            continue
        chosen = (drivers or {}).get(name)
        preferred = declared[chosen] if chosen is not None and chosen < len(declared) else None
        # Without a choice from data: a NOT NULL FK if any (every row has a parent to follow),
        # then the deepest parent (it carries the most context), then declaration order.
        driver = preferred if any(fk is preferred for fk in candidates) else min(
            candidates,
            key=lambda fk: (schema.tables[name].fk_nullable(fk), -depth[fk.ref_table]),
        )
        tables[name].driver = driver
        tables[name].secondary = [fk for fk in candidates if fk is not driver]

    return Plan(order=order, tables=tables, cycles=cycles, broken=broken)
