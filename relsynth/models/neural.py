"""Neural per-table synthesizer: a conditional autoregressive network over a table's normal scores.

The copula (:mod:`relsynth.models.copula`) maps every learned column, NULL flag and
children-per-row count of a table to a standard-normal *dim*, and a child's dims are drawn given
its parent's dims (the *context*). A Gaussian copula carries only one correlation per pair of
dims, so a U-shape, a bump, a threshold or an interaction (a dose that depends on drug × age) is
flattened. This module replaces that one joint draw, and nothing else: keys, personal data,
decoding, CHECK/UNIQUE repair and targeted generation still work on the same scores.

The model, in the spirit of MOSTLY AI's TabularARGN: each dim is discretized into cells of its
uniform score ``u = Φ(z)`` (equal-probability bins, or a categorical's own category slices when
it has few; a category whose frequencies follow a parent column has one cell per category, its
slice read from the parent row, and starts from its frequency there: the log of the slice's
width is added to its logits), and the network predicts the cells one dim after another, each given the context
(the parent row's dims, continuous) and the dims before it, each as its cell's embedding and
its score (a linear path, what the copula has, beside the cells' free shape: on 2,000 patients
cell embeddings alone left children-per-patient untied from age). One masked MLP (MADE: two
hidden layers whose units each see only the dims before their *degree*) gives every dim's
logits in one pass when training; sampling goes dim by dim, adding each drawn dim's input to
the first layer. Within its cell a score is uniform in ``u``, so every dim's marginal is the
learned one and the encoders decode it as for the copula.

Training uses torch (``pip install "relsynth[neural]"``), seeded, with Adam, a validation split
and early stopping, an epoch and a seconds budget, on CUDA when present. Sampling runs the same
forward pass in numpy from the stored weights, so a saved model needs no torch to sample, stays
plain arrays in the model file, and draws the same rows on any machine.

Targeted draws (latent ``bounds``, :mod:`relsynth.models.conditioning`) mask the cells outside a
dim's intervals and draw within what is left; because dims drawn before a bounded one cannot see
it, each bounded row is drawn :data:`RESAMPLE_CANDIDATES` times and one candidate kept with
probability proportional to the model's mass inside the bounds (sampling-importance-resampling),
which moves the earlier dims the way the condition pulls them.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relsynth.config import NEURAL_EPOCHS, NEURAL_SECONDS
from relsynth.errors import ConfigError, MissingExtraError
from relsynth.models.conditioning import LatentBounds, rows_of
from relsynth.transform.encoders import CategoricalEncoder, ConditionalCategoricalEncoder, to_normal
from relsynth.transform.normal import ndtr


__all__ = [
    "NeuralModel",
    "NeuralOptions",
    "AUTO_MIN_ROWS",
    "AUTO_MIN_GAIN",
    "copula_log_density",
    "fit_neural",
    "require_torch",
]

log = logging.getLogger("relsynth")

#: ``auto`` tries the network only on tables with this many rows ...
AUTO_MIN_ROWS = 1000
#: ... and keeps it where its held-out log-density of the table's dims beats the copula's by
#: this many nats per row.
AUTO_MIN_GAIN = 0.02
#: Candidates drawn per row under latent bounds, one kept (sampling-importance-resampling).
RESAMPLE_CANDIDATES = 16
#: Rows (candidates included) drawn at a time: 65,536 × 192 hidden units is 50 MB a layer.
CHUNK_ROWS = 65_536
#: Share of the rows held out for early stopping (at most :data:`VALIDATION_MAX_ROWS`).
VALIDATION_SHARE = 0.1
VALIDATION_MAX_ROWS = 10_000
#: Epochs without a better validation loss before training stops.
PATIENCE = 4
#: Rows per optimizer step: at most :data:`_BATCH`, fewer for small tables so that an epoch
#: takes at least :data:`_MIN_STEPS` steps (2,000 patients in batches of 512 were 4 steps an
#: epoch: 8 epochs left the children-per-patient counts unlearned).
_BATCH = 512
_MIN_STEPS = 32
_MIN_BATCH = 32
_LR = 3e-3
_WEIGHT_DECAY = 0.01
_TINY = 1e-12
#: The lowest normal score an encoder gives (:func:`~relsynth.transform.encoders.to_normal` of 0).
_Z_MIN = float(to_normal(np.zeros(1))[0])


@dataclass
class NeuralOptions:
    """Training settings of the neural synthesizer (config keys ``neural_*``, same-named kwargs).

    Attributes:
        epochs: Most passes over the training rows.
        seconds: Most seconds of training per table (None: no time limit). A time limit makes
            the number of epochs depend on the machine's speed; for the same model from the
            same seed on any machine, let ``epochs`` bind.
        bins: Cells per numeric dim (equal-probability bins of its normal score).
        hidden: Units per hidden layer.
        max_rows: Tables with more rows train on a random subset of this many.
    """

    epochs: int = NEURAL_EPOCHS
    seconds: float | None = NEURAL_SECONDS
    bins: int = 16
    hidden: int = 192
    max_rows: int = 200_000

    def __post_init__(self) -> None:
        for name in ("epochs", "bins", "hidden", "max_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"neural_{name} must be a whole number ≥ 1, got {value!r}")
        if self.bins < 2:
            raise ConfigError(f"neural_bins must be at least 2, got {self.bins}")
        if self.seconds is not None and (isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float))
                                         or self.seconds <= 0):
            raise ConfigError(f"neural_seconds must be a positive number of seconds (or None: no limit), "
                              f"got {self.seconds!r}")


def require_torch() -> Any:
    """Import torch, or raise the one-line error naming the extra to install."""
    try:
        import torch
    except ImportError:
        raise MissingExtraError("torch", "neural", "the neural synthesizer") from None
    return torch


# ------------------------------------------------------------------------------ cells
def cell_edges(dims: list[str], encoders: dict[str, Any], bins: int) -> list[np.ndarray]:
    """Per dim, the edges of its cells on the uniform axis ``(0, 1)``: a categorical's own
    category slices when it has at most ``bins`` categories (a cell is then one category),
    else ``bins`` equal-probability bins."""
    out = []
    for dim in dims:
        enc = encoders[dim]
        if isinstance(enc, CategoricalEncoder) and 1 <= len(enc.categories) <= bins:
            cum = np.clip(np.asarray(enc.cum, dtype=np.float64), 0.0, 1.0)
            edges = np.unique(np.r_[0.0, cum[:-1], 1.0])
        else:
            edges = np.linspace(0.0, 1.0, bins + 1)
        out.append(edges)
    return out


#: Per dim, the cell edges of each row on the uniform axis (rows × cells+1), for a category
#: whose slices depend on the row's parent (:meth:`relsynth.models.copula.TableModel.category_edges`).
RowEdges = dict[int, np.ndarray]


def prior_logits(e: np.ndarray, cells: int) -> np.ndarray:
    """A row-edged dim's prior: the log of each cell's width (rows × ``cells``; -1e9 where a
    cell is empty or padding). The network's logits of the dim are added to it, so a network
    that has learned nothing draws each category with its frequency in the row's parent bin,
    as the copula's encoder does, and what it learns is the departure from that."""
    width = np.diff(e, axis=1)
    out = np.full((e.shape[0], cells), -1e9, dtype=np.float32)
    with np.errstate(divide="ignore"):
        out[:, :width.shape[1]] = np.where(width > 0, np.log(np.maximum(width, _TINY)), -1e9)
    return out


def _edges_of(edges: list[np.ndarray], row_edges: RowEdges, j: int) -> np.ndarray:
    """Dim ``j``'s cell edges as a (rows or 1) × cells+1 array."""
    return row_edges[j] if j in row_edges else edges[j][None, :]


def _cells(z: np.ndarray, edges: list[np.ndarray], row_edges: RowEdges) -> np.ndarray:
    """The cell of every score (rows × dims → int64)."""
    u = ndtr(z)
    out = np.empty(z.shape, dtype=np.int64)
    for j in range(len(edges)):
        e = _edges_of(edges, row_edges, j)
        out[:, j] = np.clip((u[:, j, None] >= e[:, 1:-1]).sum(axis=1), 0, e.shape[1] - 2)
    return out


# ------------------------------------------------------------------------------ model
@dataclass
class NeuralModel:
    """A fitted conditional autoregressive network over one table's dims.

    Attributes:
        edges: Per own dim, its cell edges on the uniform axis.
        n_context: Context dims (the parent's) the network takes, plus one has-a-parent flag.
        weights: The masked layers as float32 arrays (masks applied): ``w_ctx`` (context+1 ×
            hidden), ``b1``, ``embed`` (dims·cells × hidden: each cell's first-layer input),
            ``w_own`` (dims × hidden: each dim's score's first-layer weights),
            ``w2``, ``b2``, ``w_out`` (hidden × dims·cells), ``b_out``.
        epochs: Epochs trained.
        seconds: Seconds the training took.
        validation_nll: Held-out loss (nats per row, cells only) at the kept epoch (None: too
            few rows to hold any out).
        gain: Held-out log-density per row over the copula's (nats, numbers and counts given
            everything before them), where measured.
    """

    edges: list[np.ndarray]
    n_context: int
    weights: dict[str, np.ndarray]
    epochs: int = 0
    seconds: float = 0.0
    validation_nll: float | None = None
    gain: float | None = None
    device: str = "cpu"
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_cells(self) -> int:
        """Cells of the widest dim (every dim's logits are padded to it)."""
        return max((e.size - 1 for e in self.edges), default=1)

    # ---------------------------------------------------------------- sampling
    def sample(self, context: np.ndarray | None, n_free: int, rng: np.random.Generator,
               bounds: LatentBounds | None = None, row_edges: RowEdges | None = None) -> np.ndarray:
        """Own normal scores: one row per context row (given it), then ``n_free`` rows without a parent.

        ``bounds`` (rows as the output's) keeps dims within intervals, as the copula's draw does.
        ``row_edges``: the rows' own cell edges of the dims that have them (rows as the output's).
        """
        row_edges = row_edges or {}
        k = self.n_context - 1
        ctx = context if context is not None else np.zeros((0, k))
        n = ctx.shape[0] + n_free
        inputs = np.zeros((n, k + 1), dtype=np.float32)
        inputs[:ctx.shape[0], :k] = ctx
        inputs[:ctx.shape[0], k] = 1.0
        if n == 0 or not self.edges:
            return np.zeros((n, len(self.edges)))
        # In pieces of rows, so memory (rows × hidden units, × candidates under bounds) stays bounded.
        step = max(1, CHUNK_ROWS // (RESAMPLE_CANDIDATES if bounds else 1))
        if n <= step:
            return self._sample_rows(inputs, rng, bounds or {}, row_edges)
        out = np.empty((n, len(self.edges)))
        for start in range(0, n, step):
            rows = slice(start, min(start + step, n))
            out[rows] = self._sample_rows(inputs[rows], rng, rows_of(bounds or {}, rows),
                                          {j: e[rows] if e.shape[0] > 1 else e for j, e in row_edges.items()})
        return out

    def _sample_rows(self, inputs: np.ndarray, rng: np.random.Generator, bounds: LatentBounds,
                     row_edges: RowEdges) -> np.ndarray:
        """:meth:`sample` of one piece of rows, given their network inputs."""
        n = inputs.shape[0]
        if not bounds:
            z, _ = self._draw(inputs, rng, {}, row_edges)
            return z
        m = RESAMPLE_CANDIDATES

        def repeat(a: np.ndarray) -> np.ndarray:
            return np.repeat(a, m, axis=0) if a.shape[0] > 1 else a

        many = {j: (repeat(lo), repeat(hi)) for j, (lo, hi) in bounds.items()}
        z, log_w = self._draw(np.repeat(inputs, m, axis=0), rng, many, {j: repeat(e) for j, e in row_edges.items()})
        log_w = log_w.reshape(n, m)
        w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
        pick = (np.cumsum(w, axis=1) < (rng.random(n) * w.sum(axis=1))[:, None]).sum(axis=1)
        return z.reshape(n, m, -1)[np.arange(n), np.minimum(pick, m - 1)]

    def _draw(self, inputs: np.ndarray, rng: np.random.Generator, bounds: LatentBounds,
              row_edges: RowEdges) -> tuple[np.ndarray, np.ndarray]:
        """One autoregressive pass: scores of every row, and the log of the model's mass inside
        the bounds (0 where a row has none)."""
        w = self.weights
        n, d, c = inputs.shape[0], len(self.edges), self.n_cells
        pad = self._padding()
        pre = inputs @ w["w_ctx"] + w["b1"]
        z = np.empty((n, d))
        log_mass = np.zeros(n)
        for j in range(d):
            e = _edges_of(self.edges, row_edges, j)
            h1 = np.maximum(pre, 0.0)
            h2 = np.maximum(h1 @ w["w2"] + w["b2"], 0.0)
            logits = h2 @ w["w_out"][:, j * c:(j + 1) * c] + w["b_out"][j * c:(j + 1) * c] + pad[j]
            if j in row_edges:
                logits = logits + prior_logits(e, c)
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            lo_e, hi_e = e[:, :-1], e[:, 1:]
            # An empty cell (a category no row of its parent's bin has) cannot be drawn.
            p = p[:, :lo_e.shape[1]] * (hi_e > lo_e)
            if j in bounds:
                allowed = _allowed(lo_e, hi_e, *bounds[j], n)  # rows × cells, share of each cell allowed
                q = p * allowed
                total = q.sum(axis=1) / np.maximum(p.sum(axis=1), _TINY)
                log_mass += np.log(np.maximum(total, _TINY))
                cell = _pick(np.where(total[:, None] > 0, q, p), rng)
                lo_c, hi_c = _at(lo_e, cell), _at(hi_e, cell)
                u = _within(lo_c, hi_c, *bounds[j], rng)
            else:
                cell = _pick(p, rng)
                lo_c, hi_c = _at(lo_e, cell), _at(hi_e, cell)
                u = lo_c + rng.random(n) * (hi_c - lo_c)
            z[:, j] = to_normal(u)
            if j in bounds:  # on the bounds, within the scores the encoders make (a point may be ±inf)
                z[:, j] = np.clip(_snap(z[:, j], *bounds[j]), _Z_MIN, -_Z_MIN)
            pre = pre + w["embed"][j * c + cell] + z[:, j:j + 1].astype(np.float32) * w["w_own"][j]
        return z, log_mass

    def _padding(self) -> np.ndarray:
        """Per dim, 0 for its cells and -inf for the padding up to :attr:`n_cells`."""
        if "pad" not in self._cache:
            c = self.n_cells
            pad = np.zeros((len(self.edges), c), dtype=np.float32)
            for j, e in enumerate(self.edges):
                pad[j, e.size - 1:] = -np.inf
            self._cache["pad"] = pad
        return self._cache["pad"]

    def log_density(self, inputs: np.ndarray, z: np.ndarray, row_edges: RowEdges | None = None) -> np.ndarray:
        """Log-density of each row's score of each dim given the dims before it (rows × dims; the
        sum over dims is the row's), in normal-score space, given the rows' network inputs
        (context dims and has-a-parent flag, as :func:`network_inputs` makes them)."""
        row_edges = row_edges or {}
        n = z.shape[0]
        cells = _cells(z, self.edges, row_edges)
        logp = self.cell_log_probs(inputs, z, row_edges)
        widths = np.zeros((n, len(self.edges)))
        for j in range(len(self.edges)):
            e = _edges_of(self.edges, row_edges, j)
            widths[:, j] = _at(e[:, 1:], cells[:, j]) - _at(e[:, :-1], cells[:, j])
        # Uniform within a cell on the u axis: density p / width there, times φ(z) for z.
        return logp - np.log(widths) - 0.5 * z**2 - 0.5 * math.log(2 * math.pi)

    def cell_log_probs(self, inputs: np.ndarray, z: np.ndarray, row_edges: RowEdges | None = None) -> np.ndarray:
        """Log-probability of the cell of each row's score of each dim (rows × dims), the whole pass at once."""
        w = self.weights
        c = self.n_cells
        d = len(self.edges)
        row_edges = row_edges or {}
        cells = _cells(z, self.edges, row_edges)
        pre = (inputs @ w["w_ctx"] + w["b1"] + w["embed"][cells + np.arange(d) * c].sum(axis=1)
               + z.astype(np.float32) @ w["w_own"])
        h2 = np.maximum(np.maximum(pre, 0.0) @ w["w2"] + w["b2"], 0.0)
        logits = (h2 @ w["w_out"] + w["b_out"]).reshape(-1, d, c) + self._padding()[None]
        for j, e in (row_edges or {}).items():
            logits[:, j] += prior_logits(e, c)
        top = logits.max(axis=2, keepdims=True)
        lse = np.log(np.exp(logits - top).sum(axis=2)) + top[:, :, 0]
        return np.take_along_axis(logits, cells[:, :, None], axis=2)[:, :, 0] - lse

    # ----------------------------------------------------------------- state
    def to_state(self) -> dict[str, Any]:
        return {
            "edges": list(self.edges),
            "n_context": self.n_context,
            "weights": dict(self.weights),
            "epochs": self.epochs,
            "seconds": self.seconds,
            "validation_nll": self.validation_nll,
            "gain": self.gain,
            "device": self.device,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> NeuralModel:
        return cls(
            edges=[np.asarray(e, dtype=np.float64) for e in state["edges"]],
            n_context=int(state["n_context"]),
            weights={k: np.asarray(v, dtype=np.float32) for k, v in state["weights"].items()},
            epochs=int(state["epochs"]),
            seconds=float(state["seconds"]),
            validation_nll=None if state.get("validation_nll") is None else float(state["validation_nll"]),
            gain=None if state.get("gain") is None else float(state["gain"]),
            device=str(state.get("device", "cpu")),
        )


def _at(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``a[row, idx[row]]`` for every row (``a``: rows or 1 × columns)."""
    return a[np.arange(idx.size) if a.shape[0] > 1 else 0, idx]


def _pick(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column per row, with probabilities proportional to the row of ``p`` (inverse CDF)."""
    cum = np.cumsum(p, axis=1)
    return np.minimum((cum < (rng.random(p.shape[0]) * cum[:, -1])[:, None]).sum(axis=1), p.shape[1] - 1)


def _allowed(lo_e: np.ndarray, hi_e: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """Share of each cell (rows × cells; edges ``lo_e``/``hi_e`` rows or 1 × cells) inside the rows'
    intervals (``lo``/``hi``: rows or 1 × pieces, normal scores); a point counts as a sliver so
    that its cell stays possible."""
    ulo, uhi = _uniform_pieces(lo, hi)
    a, b = lo_e[:, :, None], hi_e[:, :, None]
    overlap = np.clip(np.minimum(uhi[:, None, :], b) - np.maximum(ulo[:, None, :], a), 0.0, None)
    point = (ulo == uhi)[:, None, :] & (ulo[:, None, :] >= a) & (ulo[:, None, :] <= b)
    share = (overlap + point * 1e-9).sum(axis=2) / np.maximum(hi_e - lo_e, _TINY)
    return np.broadcast_to(np.minimum(share, 1.0), (n, lo_e.shape[1]))


def _uniform_pieces(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intervals of normal scores on the uniform axis; empty (padding) pieces become nothing."""
    valid = lo <= hi
    return np.where(valid, ndtr(lo), 2.0), np.where(valid, ndtr(hi), 2.0)


def _within(lo_c: np.ndarray, hi_c: np.ndarray, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniform point of each row's cell ``[lo_c, hi_c]`` inside its intervals (or of the cell
    where the intervals do not meet it)."""
    n = lo_c.size
    ulo, uhi = _uniform_pieces(lo, hi)
    ulo = np.broadcast_to(ulo, (n, ulo.shape[1]))
    uhi = np.broadcast_to(uhi, (n, uhi.shape[1]))
    a = np.maximum(ulo, lo_c[:, None])
    b = np.minimum(uhi, hi_c[:, None])
    size = np.clip(b - a, 0.0, None)
    total = size.sum(axis=1)
    piece = _pick(np.where(total[:, None] > 0, size, 1.0), rng)
    r = np.arange(n)
    u = a[r, piece] + rng.random(n) * size[r, piece]
    free = total <= 0
    u[free] = lo_c[free] + rng.random(int(free.sum())) * (hi_c[free] - lo_c[free])
    return u


def _snap(z: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Each score moved to its nearest allowed interval (a point stays exact)."""
    n = z.size
    lo = np.broadcast_to(lo, (n, lo.shape[1]))
    hi = np.broadcast_to(hi, (n, hi.shape[1]))
    valid = lo <= hi
    if not valid.any():
        return z
    distance = np.where(valid, np.maximum(lo - z[:, None], 0) + np.maximum(z[:, None] - hi, 0), np.inf)
    near = np.argmin(distance, axis=1)
    r = np.arange(n)
    has = valid.any(axis=1)
    return np.where(has, np.clip(z, lo[r, near], hi[r, near]), z)


def copula_log_density(corr: np.ndarray, k: int, context: np.ndarray | None, z: np.ndarray) -> np.ndarray:
    """Log-density of each own score ``z`` given the dims before it (rows × dims) under a
    Gaussian copula ``corr`` over ``[context | own]``, given the context rows (without them,
    the own block alone): with ``L`` the Cholesky factor, ``x = L e`` and dim ``i`` given those
    before it is ``N(x_i - L_ii e_i, L_ii²)``."""
    if context is None or k == 0:
        cov, x, skip = corr[k:, k:], z, 0
    else:
        cov, x, skip = corr, np.hstack([context, z]), k
    chol = np.linalg.cholesky(cov + 1e-6 * np.eye(cov.shape[0]))
    e = np.linalg.solve(chol, x.T).T  # triangular, rows at once
    diag = np.diag(chol)
    return (-0.5 * e**2 - np.log(diag) - 0.5 * math.log(2 * math.pi))[:, skip:]


# ------------------------------------------------------------------------------ training
def _masks(n_in_dims: int, cells: int, k: int, hidden: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MADE masks: hidden unit ``h`` has degree ``h mod d`` and sees the cells of dims before
    it; dim ``j``'s logits see units of degree ≤ ``j``. The context feeds every unit."""
    d = n_in_dims
    degree = np.arange(hidden) % max(d, 1)
    dim_of = np.repeat(np.arange(d), cells)
    own = (degree[None, :] >= np.arange(d)[:, None] + 1).astype(np.float32)
    embed = own[dim_of]
    hidden_mask = (degree[None, :] >= degree[:, None]).astype(np.float32)
    out = (degree[:, None] <= dim_of[None, :]).astype(np.float32)
    return embed, own, hidden_mask, out


def torch_logits(torch: Any, weights: dict[str, Any], x: Any, z: Any, y: Any, pad: Any, prior: Any = None) -> Any:
    """The network's logits (rows × dims × cells) in torch, from masked ``weights``, inputs ``x``,
    own scores ``z`` and their cells ``y`` (rows × dims); ``pad`` (dims × cells) is -inf-like
    past each dim's cells; ``prior`` (rows × dims × cells, or None) is added (:func:`prior_logits`).
    :meth:`NeuralModel.cell_log_probs` is the same pass in numpy."""
    d, c = pad.shape
    offsets = torch.arange(d, device=x.device) * c
    pre = x @ weights["w_ctx"] + weights["b1"] + weights["embed"][y + offsets].sum(dim=1) + z @ weights["w_own"]
    h2 = torch.relu(torch.relu(pre) @ weights["w2"] + weights["b2"])
    logits = (h2 @ weights["w_out"] + weights["b_out"]).view(-1, d, c) + pad
    return logits if prior is None else logits + prior


def network_inputs(context: np.ndarray | None, has_parent: np.ndarray | None, n: int, k: int) -> np.ndarray:
    """The network's input rows: the parent's dims and a 1 flag where a row has a parent, zeros where not."""
    inputs = np.zeros((n, k + 1), dtype=np.float32)
    if context is not None and k + 1 > 0:
        flag = np.ones(n, dtype=bool) if has_parent is None else has_parent
        inputs[flag, :k] = context[flag]
        inputs[flag, k] = 1.0
    return inputs


def fit_neural(context: np.ndarray | None, z: np.ndarray, dims: list[str], encoders: dict[str, Any],
               has_parent: np.ndarray | None, options: NeuralOptions, seed: int, name: str = "",
               corr: np.ndarray | None = None, row_edges: RowEdges | None = None) -> NeuralModel:
    """Train the network on a table's own scores ``z`` (rows × dims), given each row's parent
    dims ``context`` (rows × k, rows aligned; ignored where ``has_parent`` is False) or none.

    With the table's copula ``corr`` (over ``context + dims``), the held-out rows' mean
    log-density under the network less under the copula is stored as the model's ``gain``.
    ``row_edges``: the rows' own cells of the dims that have them (a category per cell, its
    slice following the parent row).

    Returns:
        The fitted :class:`NeuralModel` (weights copied out of torch, masks applied).
    """
    torch = require_torch()
    t0 = time.perf_counter()
    n, d = z.shape
    k = 0 if context is None else context.shape[1]
    row_edges = row_edges or {}
    edges = cell_edges(dims, encoders, options.bins)
    for j, e in row_edges.items():
        edges[j] = np.linspace(0.0, 1.0, e.shape[1])  # as many cells as categories; each row's own slices
    c = max((e.size - 1 for e in edges), default=1)
    cells = _cells(z, edges, row_edges)
    inputs = network_inputs(context, has_parent, n, k)
    rng = np.random.default_rng([seed, 11])
    order = rng.permutation(n)
    if n > options.max_rows:
        order = order[:options.max_rows]
    n_val = min(VALIDATION_MAX_ROWS, max(1, int(round(VALIDATION_SHARE * order.size)))) if order.size >= 20 else 0
    val, train = order[:n_val], order[n_val:]

    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator(device="cpu").manual_seed(int(seed) % (2**63))
    torch.manual_seed(int(seed) % (2**63))
    m_embed, m_own, m_hidden, m_out = (torch.from_numpy(m).to(device) for m in _masks(d, c, k, options.hidden))
    pad = np.zeros((d, c), dtype=np.float32)
    for j, e in enumerate(edges):
        pad[j, e.size - 1:] = -1e9
    pad_t = torch.from_numpy(pad).to(device)

    def param(*shape: int, scale: float) -> Any:
        return torch.nn.Parameter((torch.randn(*shape, generator=gen) * scale).to(device))

    h = options.hidden
    params = {
        "w_ctx": param(k + 1, h, scale=1 / math.sqrt(k + 1)),
        "b1": torch.nn.Parameter(torch.zeros(h, device=device)),
        "embed": param(d * c, h, scale=1 / math.sqrt(max(d, 1))),
        "w_own": param(d, h, scale=1 / math.sqrt(max(d, 1))),
        "w2": param(h, h, scale=math.sqrt(2 / h)),
        "b2": torch.nn.Parameter(torch.zeros(h, device=device)),
        "w_out": param(h, d * c, scale=1 / math.sqrt(h)),
        "b_out": torch.nn.Parameter(torch.zeros(d * c, device=device)),
    }
    masks = {"embed": m_embed, "w_own": m_own, "w2": m_hidden, "w_out": m_out}

    def loss_of(x: Any, zz: Any, y: Any, at: Any) -> Any:
        masked = {key: p * masks[key] if key in masks else p for key, p in params.items()}
        prior = None
        if prior_dims:
            prior = torch.zeros((x.shape[0], d, c), device=device)
            prior[:, prior_dims] = prior_all[at]
        logits = torch_logits(torch, masked, x, zz, y, pad_t, prior)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, c), y.reshape(-1), reduction="sum") / x.shape[0]

    prior_dims = sorted(row_edges)
    prior_all = torch.from_numpy(np.stack([prior_logits(row_edges[j], c) for j in prior_dims], axis=1)).to(device) \
        if prior_dims else None
    x_all = torch.from_numpy(inputs).to(device)
    z_all = torch.from_numpy(z.astype(np.float32)).to(device)
    y_all = torch.from_numpy(cells).to(device)
    at_val = torch.from_numpy(val).to(device)
    x_val, z_val, y_val = x_all[at_val], z_all[at_val], y_all[at_val]
    optimizer = torch.optim.AdamW(params.values(), lr=_LR, weight_decay=_WEIGHT_DECAY)
    batch_size = int(np.clip(train.size // _MIN_STEPS, _MIN_BATCH, _BATCH))
    best = (math.inf, {key: p.detach().clone() for key, p in params.items()}, 0)
    stale = epochs = 0
    with _training_settings(torch):
        for epoch in range(options.epochs):
            perm = torch.from_numpy(train[rng.permutation(train.size)]).to(device)
            for start in range(0, perm.numel(), batch_size):
                batch = perm[start:start + batch_size]
                optimizer.zero_grad()
                loss_of(x_all[batch], z_all[batch], y_all[batch], batch).backward()
                optimizer.step()
            epochs = epoch + 1
            if n_val:
                with torch.no_grad():
                    current = float(loss_of(x_val, z_val, y_val, at_val))
                if current < best[0] - 1e-4:
                    best, stale = (current, {key: p.detach().clone() for key, p in params.items()}, epochs), 0
                else:
                    stale += 1
            else:
                best = (math.nan, {key: p.detach().clone() for key, p in params.items()}, epochs)
            if stale >= PATIENCE:
                break
            if options.seconds is not None and time.perf_counter() - t0 > options.seconds:
                log.info("%s: neural training stopped at its %.0f s budget after %d epoch(s)", name, options.seconds, epochs)
                break
    kept = best[1]
    weights = {
        "w_ctx": kept["w_ctx"], "b1": kept["b1"], "embed": kept["embed"] * m_embed, "w_own": kept["w_own"] * m_own,
        "w2": kept["w2"] * m_hidden,
        "b2": kept["b2"], "w_out": kept["w_out"] * m_out, "b_out": kept["b_out"],
    }
    model = NeuralModel(edges, k + 1, {key: v.detach().cpu().numpy().astype(np.float32) for key, v in weights.items()},
                        epochs=epochs, seconds=time.perf_counter() - t0,
                        validation_nll=float(best[0]) if n_val else None, device=device)
    scored = [j for j, dim in enumerate(dims) if _scored(dim, encoders[dim])]
    if corr is not None and n_val and scored:
        linked = inputs[val, k] > 0
        copula = np.empty((n_val, d))
        copula[linked] = copula_log_density(corr, k, context[val[linked]] if context is not None else None, z[val[linked]])
        copula[~linked] = copula_log_density(corr, k, None, z[val[~linked]])
        network = model.log_density(inputs[val], z[val], {j: e[val] for j, e in row_edges.items()})
        model.gain = float(np.mean((network - copula)[:, scored].sum(axis=1)))
    return model


def _scored(dim: str, encoder: Any) -> bool:
    """Whether a dim counts in the held-out comparison with the copula: numbers and counts.
    A category's or a NULL flag's score is uniform noise within its slice, which a copula
    prices as a Gaussian density and the network as a flat cell: a gap of nats in the network's
    favour that decodes to nothing (the demo's treatments gained 0.19 nats/row and lost pair
    fidelity). They still count as what later dims are conditioned on."""
    return not dim.startswith("null:") and not isinstance(encoder, (CategoricalEncoder, ConditionalCategoricalEncoder))


class _training_settings:
    """Deterministic torch kernels and one CPU thread for the duration of a block, the previous
    settings restored after. The network is small: on CPU, threads split 512 × 192 matrix
    products finer than their start-up cost, and on a machine whose cores are busy one thread
    trained 6× faster than two (7 ms against 42 ms a batch)."""

    def __init__(self, torch: Any) -> None:
        self.torch = torch

    def __enter__(self) -> None:
        self.before = self.torch.are_deterministic_algorithms_enabled(), self.torch.get_num_threads()
        self.torch.use_deterministic_algorithms(True, warn_only=True)
        self.torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        self.torch.use_deterministic_algorithms(self.before[0])
        self.torch.set_num_threads(self.before[1])
