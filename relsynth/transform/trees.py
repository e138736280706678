"""The shape of a self-referencing FK (an org chart, a category tree), learned and regrown.

:func:`fit_tree` learns, from each source row's parent row (``match_rows`` output), the share of
rows at each depth, per depth the share of nodes that have children, and per depth the
distribution of children per node among nodes with children (:class:`TreeStats`).
Privacy: like the FK degree distributions, these are counts and shares, no key values.

:func:`grow_forest` grows a forest of ``n`` synthetic rows from them, level by level: the depth
counts are scaled to ``n`` (systematic sampling, so each level is within one row of its share),
rows are put on levels at random, and each level's rows are given parents on the level above,
as many distinct parents as the learned share says, each with a learned number of children.
A parent is always on the level above, so no row is its own ancestor.

Composite self-references whose FK repeats part of the key (``(tenant, parent_id) ->
(tenant, id)``) are grown per group (``groups``): a row's parent is in its own group.

Both functions are vectorized: all levels are handled at once (pointer jumping ``log2(n)``
times to find depths; one segmented pass over (group, level) pairs to grow), so a 100,000-deep
chain costs no more than a flat tree; the only loops run over the (at most
:data:`FANOUT_LEVELS`) learned fan-out distributions. Source rows caught in a cycle (no root
above them) do not hang the fit: the rows on each cycle are learned as roots and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relsynth.transform.encoders import NumericEncoder
from relsynth.transform.keys import distinct_ints

__all__ = ["TreeStats", "fit_tree", "grow_forest", "random_forest", "tree_depths", "FANOUT_LEVELS"]

#: Levels that get a fan-out distribution of their own; deeper levels share the last one.
FANOUT_LEVELS = 16


@dataclass
class TreeStats:
    """The learned shape of a self-reference forest.

    Attributes:
        depth_share: Share of rows at each depth 0..D (depth 0: roots).
        parent_share: For each depth 0..D-1, the share of its nodes that have children.
        fanout: Children per node among nodes with children, one distribution per depth for
            the first :data:`FANOUT_LEVELS` depths, the last one shared by all deeper levels.
        self_root: Share of roots whose FK pointed at the row itself (the rest were NULL,
            dangling, or on a cycle).
    """

    depth_share: np.ndarray
    parent_share: np.ndarray
    fanout: list[NumericEncoder] = field(default_factory=list)
    self_root: float = 0.0

    @property
    def max_depth(self) -> int:
        return int(self.depth_share.size - 1)

    def to_state(self) -> dict[str, Any]:
        return {
            "depth_share": self.depth_share,
            "parent_share": self.parent_share,
            "fanout": [f.to_state() for f in self.fanout],
            "self_root": self.self_root,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TreeStats:
        return cls(
            np.asarray(state["depth_share"], dtype=np.float64),
            np.asarray(state["parent_share"], dtype=np.float64),
            [NumericEncoder.from_state(f) for f in state["fanout"]],
            float(state["self_root"]),
        )


def _doublings(n: int) -> int:
    """Pointer-jumping rounds after which 2**rounds >= n."""
    return max(1, int(np.ceil(np.log2(max(n, 2))))) + 1


def tree_depths(parent_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Depth of every row, the root mask, and the number of rows found on cycles.

    ``parent_rows[i]`` is row i's parent row, -1 for none; a row pointing at itself is a root.
    Rows on a cycle (no root above them) are made roots, so rows hanging below a cycle keep
    their depth relative to it. Pointer jumping: O(n log n), no loop per row or per level.
    """
    parent = np.asarray(parent_rows, dtype=np.int64)
    n = parent.size
    idx = np.arange(n, dtype=np.int64)
    root = (parent < 0) | (parent == idx)
    if n == 0:
        return np.zeros(0, dtype=np.int64), root, 0
    rounds = _doublings(n)
    up = np.where(root, idx, parent)
    anc = up.copy()
    for _ in range(rounds):
        anc = anc[anc]
    # A row whose 2**rounds-th ancestor is no root sits on or under a cycle; that ancestor is on
    # the cycle, and since jumping rotates each cycle, every cycle row is such an ancestor.
    stuck = ~root[anc]
    on_cycle = distinct_ints(anc[stuck])
    root[on_cycle] = True
    up = np.where(root, idx, parent)
    dist = (~root).astype(np.int64)
    for _ in range(rounds):
        dist = dist + dist[up]
        up = up[up]
    return dist, root, int(on_cycle.size)


def fit_tree(parent_rows: np.ndarray, rng: np.random.Generator) -> tuple[TreeStats, int]:
    """Learn :class:`TreeStats` from each row's parent row (-1: none; itself: a root).

    Returns the stats and the number of source rows found on cycles (learned as roots).
    """
    parent = np.asarray(parent_rows, dtype=np.int64)
    n = parent.size
    if n == 0:
        return TreeStats(np.array([1.0]), np.zeros(0), [], 0.0), 0
    depth, root, n_cycle = tree_depths(parent)
    children = np.bincount(parent[~root], minlength=n)
    has = children > 0
    per_depth = np.bincount(depth)
    max_depth = per_depth.size - 1
    parent_share = (np.bincount(depth[has], minlength=max_depth + 1) / per_depth)[:max_depth]
    # Every level above the deepest has a node with children, so no bucket is empty.
    bucket = np.minimum(depth, min(max_depth, FANOUT_LEVELS) - 1)
    fanout = [
        NumericEncoder.fit_transform(children[has & (bucket == k)].astype(np.float64), rng, integer=True)[0]
        for k in range(min(max_depth, FANOUT_LEVELS))
    ]
    self_root = float((parent == np.arange(n)).sum() / root.sum())
    return TreeStats(per_depth / n, parent_share, fanout, self_root), n_cycle


def _ranked(groups: np.ndarray, key: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Items sorted by group then ``key``, and each sorted item's rank within its group."""
    order = np.lexsort((key, groups))
    size = np.bincount(groups, minlength=n_groups)
    start = np.cumsum(size) - size
    return order, np.arange(groups.size) - start[groups[order]]


def _rank_in_group(groups: np.ndarray, n_groups: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Items shuffled and sorted by group, and each sorted item's rank within its group."""
    return _ranked(groups, rng.random(groups.size), n_groups)


def _share_out(weights: np.ndarray, groups: np.ndarray, totals: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Integers per item, summing to ``totals[g]`` over each group g, in proportion to ``weights``.

    Groups whose weights are all zero share evenly. Fractions are rounded so the largest ones
    win more often (weighted sampling without replacement of the leftover units).
    """
    n_groups = totals.size
    w = np.asarray(weights, dtype=np.float64)
    flat = np.bincount(groups, weights=w, minlength=n_groups)[groups] <= 0
    w = np.where(flat, 1.0, w)
    target = w * totals[groups] / np.bincount(groups, weights=w, minlength=n_groups)[groups]
    base = np.floor(target)
    frac = np.clip(target - base, 0.0, 1.0)
    left = totals - np.round(np.bincount(groups, weights=base, minlength=n_groups)).astype(np.int64)
    with np.errstate(divide="ignore", over="ignore", under="ignore"):
        key = np.where(frac > 0, np.exp(np.log(rng.random(w.size)) / np.maximum(frac, 1e-300)), 0.0)
    order, rank = _ranked(groups, -key, n_groups)
    base[order[rank < left[groups[order]]]] += 1
    return base.astype(np.int64)


def _levels(stats: TreeStats, groups: np.ndarray, n_groups: int, rng: np.random.Generator) -> np.ndarray:
    """Depth of each row: each group's rows split over the levels by the learned shares."""
    order, rank = _rank_in_group(groups, n_groups, rng)
    size = np.bincount(groups, minlength=n_groups)
    cum = np.cumsum(stats.depth_share)
    cum[-1] = 1.0
    g = groups[order]
    u = (rank + rng.random(n_groups)[g]) / size[g]
    depth = np.empty(groups.size, dtype=np.int64)
    depth[order] = np.minimum(np.searchsorted(cum, u, side="right"), stats.max_depth)
    depth[order[rank == 0]] = 0  # every group has a root
    # A small group can miss a middle level: close the gaps so every level has one above it.
    o = np.lexsort((depth, groups))
    gs, ds = groups[o], depth[o]
    new = np.ones(o.size, dtype=bool)
    new[1:] = (gs[1:] != gs[:-1]) | (ds[1:] != ds[:-1])
    level = np.cumsum(new) - 1
    first = np.cumsum(size) - size
    depth[o] = level - level[first[gs]]
    return depth


def _roots(parent: np.ndarray, nullable: bool, self_root: float, rng: np.random.Generator) -> np.ndarray:
    """Roots (-1) become their own parent where the FK is NOT NULL, else at the ``self_root`` share."""
    root = parent < 0
    if nullable:
        root &= (rng.random(parent.size) < self_root) if self_root > 0 else np.zeros_like(root)
    parent[root] = np.flatnonzero(root)
    return parent


def random_forest(
    n: int, null_rate: float, rng: np.random.Generator, *, nullable: bool = True, groups: np.ndarray | None = None
) -> np.ndarray:
    """Parent rows of a random forest: roots at ``null_rate``, every other row under an earlier row.

    The shape-blind fallback for models without :class:`TreeStats`; ``groups`` as in
    :func:`grow_forest` (the first row of each group is a root).
    """
    idx = np.arange(n, dtype=np.int64)
    if n == 0:
        return idx
    groups = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    order, rank = _ranked(groups, idx, int(groups.max()) + 1)
    root = rng.random(n) < null_rate
    root[order[rank == 0]] = True
    earlier = np.arange(n) - rank + np.floor(rng.random(n)[order] * rank).astype(np.int64)
    parent = np.empty(n, dtype=np.int64)
    parent[order] = order[earlier]
    parent[root] = -1
    return _roots(parent, nullable, 0.0, rng)


def grow_forest(
    stats: TreeStats,
    n: int,
    rng: np.random.Generator,
    *,
    nullable: bool = True,
    groups: np.ndarray | None = None,
    unique: bool = False,
) -> np.ndarray:
    """Parent row of each of ``n`` synthetic rows, shaped like the learned forest.

    Args:
        stats: The learned shape.
        n: Number of rows.
        rng: Random generator.
        nullable: Whether a root's FK may be NULL. Roots get -1, except where the FK is NOT
            NULL or the source's roots pointed at themselves (at that share): those get their
            own row.
        groups: Group code (0..G-1) per row; a row's parent is taken from its own group (for
            composite self-references that repeat part of the key). None: one group.
        unique: The FK is UNIQUE: each parent gets at most one child; children left without
            one become roots.

    Returns:
        int64 array of parent rows: -1 for a NULL root, ``i`` for a root pointing at itself.
    """
    idx = np.arange(n, dtype=np.int64)
    if n == 0:
        return idx
    groups = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    depth = _levels(stats, groups, int(groups.max()) + 1, rng)
    # Every level of every group at once: a segment is a (group, level) pair; a row is a possible
    # parent in its own segment and, below the roots, a child of the segment one level up (which
    # exists: _levels leaves no gaps). So a tree of any depth costs no loop per level.
    width = int(depth.max()) + 1
    keys, seg = np.unique(groups * width + depth, return_inverse=True)
    kids = np.flatnonzero(depth > 0)
    kid_seg = np.searchsorted(keys, groups[kids] * width + depth[kids] - 1)
    n_seg = keys.size
    n_upper = np.bincount(seg, minlength=n_seg)
    n_lower = np.bincount(kid_seg, minlength=n_seg)
    cap = np.minimum(n_upper, n_lower)
    if unique:
        n_par = cap
    else:
        share = np.append(stats.parent_share, 1.0)[np.minimum(keys % width, stats.parent_share.size)]
        n_par = np.floor(share * n_upper + rng.random(n_seg)).astype(np.int64)
        n_par = np.where(n_lower > 0, np.clip(n_par, 1, np.maximum(cap, 1)), 0)
    # The parents: n_par random rows of each segment, in segment order.
    order, rank = _rank_in_group(seg, n_seg, rng)
    chosen = order[rank < n_par[seg[order]]]
    if unique:
        counts = np.ones(chosen.size, dtype=np.int64)
    else:
        degree = np.ones(chosen.size)
        bucket = np.minimum(depth[chosen], len(stats.fanout) - 1)
        for k, fan in enumerate(stats.fanout):  # one pass per learned fan-out (FANOUT_LEVELS at most)
            at = bucket == k
            degree[at] = fan.decode(rng.standard_normal(int(at.sum())))
        counts = 1 + _share_out(np.maximum(degree - 1, 0), seg[chosen], n_lower - n_par, rng)
    slots = np.repeat(chosen, counts)
    n_slots = np.bincount(seg[chosen], weights=counts, minlength=n_seg).astype(np.int64)
    # The children, shuffled within their segment, take the slots of their segment in turn.
    order, rank = _rank_in_group(kid_seg, n_seg, rng)
    parent = np.full(n, -1, dtype=np.int64)
    parent[kids[order[rank < n_slots[kid_seg[order]]]]] = slots
    return _roots(parent, nullable, stats.self_root, rng)
