"""Exact TreeSHAP at the cost of a lookup: each tree explained once per decision pattern.

Path-dependent TreeSHAP of one tree depends on a row only through the way it goes at each
split node of that tree (the "one fractions"; the "zero fractions" are the tree's covers).
Rows taking the same branch at every split therefore get identical contributions from it.
A depth-4 tree has 15 splits, and among 100k subscribers a tree sees about a thousand
distinct patterns, a number growing far slower than the rows. So each tree is explained by
XGBoost's own exact ``pred_contribs`` on one representative row per pattern, and every row
gathers its pattern's values: the same numbers as ``pred_contribs`` on the whole model (up to
float summation order), over ten times sooner (benchmarks/reasons_throughput.py).
"""

from __future__ import annotations

import functools
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import xgboost as xgb

# patterns of at most this many splits are counted in a dense table, larger ones sorted
_DENSE_PATTERN_BITS = 20


@dataclass(frozen=True)
class _Tree:
    """The split nodes of one iteration's tree(s): go left when ``x < threshold``, or if
    missing and ``missing_left``."""

    iteration: int
    column: np.ndarray  # (splits,) model column index
    threshold: np.ndarray  # (splits,) float32, as XGBoost compares
    missing_left: np.ndarray  # (splits,) bool


def exact_contributions(
    booster: xgb.Booster, matrix: np.ndarray, output_group: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Exact TreeSHAP values per model column, equal to ``pred_contribs=True``.

    Trees are shared out over as many threads as XGBoost's ``nthread`` gives the booster.

    Args:
        booster: A tree booster with numerical splits (the encoder one-hot encodes categories).
        matrix: (n, columns) model matrix in the booster's column order.
        output_group: The class whose margin to explain (0 for a single-output model).

    Returns:
        (n, columns) contributions and the (n,) bias; their row sums are the margin.
    """
    rows = np.asarray(matrix, dtype=np.float32)
    if not rows.shape[0]:  # XGBoost answers no rows in another shape
        return np.zeros(rows.shape, dtype=np.float32), np.zeros(0, dtype=np.float32)
    columns = np.asfortranarray(rows)  # a split reads one column: keep each contiguous
    trees = _sliced_trees(booster, output_group)

    def explain(share: list[tuple[_Tree, xgb.Booster]]) -> np.ndarray:
        values = np.zeros((rows.shape[1], rows.shape[0]), dtype=np.float64)  # column-major
        for tree, one_tree in share:
            patterns, inverse = _distinct(_patterns(tree, columns), len(tree.column))
            by_column = _contribs(one_tree, rows[patterns], output_group)[:, :-1].T.copy()
            for column in np.flatnonzero(np.any(by_column != 0, axis=1)):
                values[column] += by_column[column].take(inverse)
        return values

    threads = _threads(booster)
    with ThreadPoolExecutor(threads) as pool:  # numpy and XGBoost release the GIL
        values = sum(pool.map(explain, [trees[i::threads] for i in range(threads)]))
    probe = np.zeros((1, rows.shape[1]), dtype=np.float32)  # the bias is the same for any row
    bias = _contribs(booster, probe, output_group)[0, -1]
    return values.T.astype(np.float32), np.full(rows.shape[0], bias, dtype=np.float32)


@functools.lru_cache(maxsize=8)
def _sliced_trees(booster: xgb.Booster, output_group: int) -> list[tuple[_Tree, xgb.Booster]]:
    """Each tree's splits with its one-tree booster, made once per booster: slicing costs
    milliseconds a tree, which a batch scorer would otherwise pay on every batch. Sliced here,
    not in the threads, as slicing one booster from several threads is not known to be safe.
    Boosters are cached by identity; clm never trains one further after it is loaded.

    A one-tree booster explains a thousand-odd patterns per call on one thread: OpenMP teams
    inside each of ``exact_contributions``' threads cost several times the work on a busy
    box (same numbers, each row is explained alone)."""
    sliced = [
        (tree, booster[tree.iteration : tree.iteration + 1])
        for tree in _trees(booster, output_group)
    ]
    for _, one_tree in sliced:  # the trees are shared out over threads already
        one_tree.set_param("nthread", 1)
    return sliced


def output_groups(booster: xgb.Booster) -> int:
    """How many margins the booster predicts: the classes of a multiclass model, else 1."""
    learner = json.loads(booster.save_config())["learner"]
    return max(1, int(learner["learner_model_param"]["num_class"]))


def _threads(booster: xgb.Booster) -> int:
    """XGBoost's thread count for this booster: its ``nthread``, or every core when unset."""
    nthread = int(json.loads(booster.save_config())["learner"]["generic_param"]["nthread"])
    return nthread if nthread > 0 else os.cpu_count() or 1


def _trees(booster: xgb.Booster, output_group: int) -> list[_Tree]:
    """The split nodes of each iteration's trees of ``output_group``, from the model's JSON.

    An iteration holds one tree per output group, or several with ``num_parallel_tree``:
    those explained together, their splits joined into one pattern. Iterations without a
    split contribute nothing but to the bias and are left out.
    """
    model = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]
    bounds = model["iteration_indptr"]
    trees = []
    for iteration in range(len(bounds) - 1):
        members = [
            model["trees"][index]
            for index in range(bounds[iteration], bounds[iteration + 1])
            if model["tree_info"][index] == output_group
        ]
        if any(any(tree["split_type"]) for tree in members):
            raise ValueError("exact_contributions needs numerical splits only")
        column = _split_nodes(members, "split_indices", np.intp)
        if column.size:
            threshold = _split_nodes(members, "split_conditions", np.float32)
            missing_left = _split_nodes(members, "default_left", bool)
            trees.append(_Tree(iteration, column, threshold, missing_left))
    return trees


def _split_nodes(trees: list[dict], key: str, dtype: type) -> np.ndarray:
    """The ``key`` array of ``trees`` (XGBoost's JSON), at split nodes only, joined."""
    parts = [np.asarray(t[key], dtype=dtype)[np.asarray(t["left_children"]) != -1] for t in trees]
    return np.concatenate([np.empty(0, dtype=dtype), *parts])


def _patterns(tree: _Tree, columns: np.ndarray) -> np.ndarray:
    """(n, words) the branch taken at every split of ``tree``, one bit per split.

    32-bit words: a depth-4 tree fits one, at half the memory traffic of 64-bit ones.
    """
    code = np.zeros((columns.shape[0], -(-len(tree.column) // 32)), dtype=np.uint32)
    left = np.empty(columns.shape[0], dtype=bool)
    for bit, (column, threshold, missing_left) in enumerate(
        zip(tree.column, tree.threshold, tree.missing_left, strict=True)
    ):
        x = columns[:, column]
        np.less(x, threshold, out=left)
        if missing_left:
            left |= np.isnan(x)
        code[:, bit // 32] |= left.astype(np.uint32) << np.uint32(bit % 32)
    return code


def _distinct(codes: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """One row index per distinct code, and each row's position among them."""
    if bits > _DENSE_PATTERN_BITS:
        _, first, inverse = np.unique(codes, axis=0, return_index=True, return_inverse=True)
        return first, inverse.ravel()
    dense = codes[:, 0].astype(np.intp)
    present = np.bincount(dense, minlength=1 << bits) > 0
    position = np.cumsum(present) - 1
    representative = np.empty(present.size, dtype=np.intp)
    representative[dense] = np.arange(dense.size)  # any row of a pattern represents it
    return representative[present], position[dense]


def _contribs(booster: xgb.Booster, rows: np.ndarray, output_group: int) -> np.ndarray:
    """XGBoost's exact ``pred_contribs`` of ``output_group``: (n, columns + 1), bias last."""
    names = booster.feature_names
    raw = booster.predict(xgb.DMatrix(rows, feature_names=names, nthread=1), pred_contribs=True)
    return raw[:, output_group, :] if raw.ndim == 3 else raw
