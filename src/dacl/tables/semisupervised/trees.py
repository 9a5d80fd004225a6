"""Fitted gradient-boosted trees as arrays: what a model folder keeps of scikit-learn's
``HistGradientBoostingClassifier`` / ``Regressor``, and their predictions from the arrays.

A fitted model is its baseline and its trees; each tree a table of nodes (the feature a node splits on,
its threshold, the side where a missing value goes, its children, its leaf value). Kept as tensors in
``members.safetensors``, the trees load as data (no pickle and no skops, whose import alone took 2 s) and
predict with scikit-learn's own compiled tree walker, rebuilt from the arrays (bit for bit its predictions,
tested), or where a scikit-learn lacks it with :meth:`BoostedTrees.walk` in NumPy. Either way a value
goes left when it is at most the threshold, a missing value to the side the node learnt; the raw
score is the baseline plus every tree's leaf; the link turns it into probabilities (logistic for two
classes, softmax for more) or leaves the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

__all__ = ["LINKS", "BoostedTrees"]

# scikit-learn's loss (the default of each estimator) -> the link from raw scores to outputs
LINKS = {"HalfBinomialLoss": "logistic", "HalfMultinomialLoss": "softmax", "HalfSquaredError": "identity"}
_ARRAYS = ("feature", "threshold", "missing_left", "left", "right", "leaf", "value", "roots", "output", "baseline",
           "classes")  # fmt: skip


@dataclass
class BoostedTrees:
    """Every tree's nodes, concatenated: node ``i`` of the whole forest splits on ``feature[i]`` at
    ``threshold[i]`` (left when ``x <= threshold``, a missing value left where ``missing_left[i]``), its
    children ``left[i]``, ``right[i]`` (indices into the same arrays), or is a ``leaf`` of ``value[i]``.
    Tree ``t`` starts at ``roots[t]`` and adds to raw output ``output[t]``; ``baseline`` starts each raw
    output; ``classes`` are the labels the trees saw (classification; empty for a number)."""

    feature: np.ndarray  # int64 (M,)
    threshold: np.ndarray  # float64 (M,)
    missing_left: np.ndarray  # bool (M,)
    left: np.ndarray  # int64 (M,)
    right: np.ndarray  # int64 (M,)
    leaf: np.ndarray  # bool (M,)
    value: np.ndarray  # float64 (M,)
    roots: np.ndarray  # int64 (T,)
    output: np.ndarray  # int64 (T,)
    baseline: np.ndarray  # float64 (K,)
    classes: np.ndarray  # int64 (C,), C = 2 for K = 1 with the logistic link
    link: str

    @classmethod
    def from_fitted(cls, model: Any) -> BoostedTrees:
        """The arrays of a fitted ``HistGradientBoostingClassifier`` / ``Regressor`` (default loss, no
        categorical splits); raises ValueError naming what it cannot keep."""
        loss = type(getattr(model, "_loss", None)).__name__
        predictors = getattr(model, "_predictors", None)
        if predictors is None or loss not in LINKS:
            raise ValueError(f"{type(model).__name__} with the loss {loss} cannot be kept as arrays: dacl keeps "
                             "histogram gradient-boosted trees with their default loss.")  # fmt: skip
        parts, roots, outputs, start = [], [], [], 0
        for iteration in predictors:
            for output, predictor in enumerate(iteration):
                nodes = predictor.nodes
                if nodes["is_categorical"].any():
                    raise ValueError("trees with categorical splits cannot be kept as arrays.")
                parts.append(nodes)
                roots.append(start)
                outputs.append(output)
                start += len(nodes)
        nodes = np.concatenate(parts)
        offsets = np.repeat(np.asarray(roots, dtype=np.int64), [len(p) for p in parts])
        leaf = nodes["is_leaf"].astype(bool)
        return cls(
            feature=np.where(leaf, 0, nodes["feature_idx"]).astype(np.int64),
            threshold=np.where(leaf, 0.0, nodes["num_threshold"]).astype(np.float64),
            missing_left=nodes["missing_go_to_left"].astype(bool),
            left=np.where(leaf, 0, nodes["left"].astype(np.int64) + offsets),
            right=np.where(leaf, 0, nodes["right"].astype(np.int64) + offsets),
            leaf=leaf,
            value=np.where(leaf, nodes["value"], 0.0).astype(np.float64),
            roots=np.asarray(roots, dtype=np.int64),
            output=np.asarray(outputs, dtype=np.int64),
            baseline=np.asarray(model._baseline_prediction, dtype=np.float64).ravel(),
            classes=np.asarray(getattr(model, "classes_", []), dtype=np.int64),
            link=LINKS[loss],
        )

    @classmethod
    def of(cls, model: Any) -> BoostedTrees:
        """``model`` itself if kept as arrays already (a loaded model folder's), else its arrays
        (:meth:`from_fitted`)."""
        return model if isinstance(model, cls) else cls.from_fitted(model)

    def tensors(self) -> dict[str, np.ndarray]:
        """The arrays by name (booleans as uint8), for safetensors; ``link`` goes in the record."""
        return {name: getattr(self, name).astype(np.uint8) if getattr(self, name).dtype == bool
                else getattr(self, name) for name in _ARRAYS}  # fmt: skip

    @classmethod
    def from_tensors(cls, arrays: dict[str, np.ndarray], link: str) -> BoostedTrees:
        """Rebuilt from :meth:`tensors`, every index checked to stay inside the arrays."""
        if link not in LINKS.values():
            raise ValueError(f"the trees' link {link!r} is not one of {', '.join(LINKS.values())}")
        values = {name: np.asarray(arrays[name]) for name in _ARRAYS}
        for name in ("missing_left", "leaf"):
            values[name] = values[name].astype(bool)
        trees = cls(**values, link=link)
        nodes, outputs = len(trees.feature), len(trees.baseline)
        same = {len(getattr(trees, n)) for n in ("threshold", "missing_left", "left", "right", "leaf", "value")}
        inner = ~trees.leaf
        if (same != {nodes} or len(trees.output) != len(trees.roots) or not len(trees.roots)
                or trees.roots.min() < 0 or trees.roots.max() >= nodes or trees.output.min() < 0
                or trees.output.max() >= outputs or (inner.any() and (min(trees.left[inner].min(),
                trees.right[inner].min()) < 0 or max(trees.left[inner].max(), trees.right[inner].max()) >= nodes))
                or (inner & (trees.feature < 0)).any()):  # fmt: skip
            raise ValueError("the trees' arrays do not describe trees (an index points outside them)")
        # each tree a block of nodes in preorder, as scikit-learn lays them out: the blocks in order from
        # node 0, and an inner node's children after it inside its own block (no cycle can then exist, and
        # scikit-learn's compiled walker, which trusts its nodes, never reads outside a tree)
        if trees.roots[0] != 0 or (np.diff(trees.roots) <= 0).any():
            raise ValueError("the trees' arrays do not describe trees (the trees' roots are not in order)")
        index = np.arange(nodes)
        ends = np.append(trees.roots[1:], nodes)
        block_end = ends[np.searchsorted(trees.roots, index, side="right") - 1]  # the end of each node's tree
        for child in (trees.left[inner], trees.right[inner]):
            if (child <= index[inner]).any():
                raise ValueError("the trees' arrays hold a cycle (a child before its parent)")
            if (child >= block_end[inner]).any():
                raise ValueError("the trees' arrays do not describe trees (a child outside its own tree)")
        return trees

    @cached_property
    def depth(self) -> int:
        """The longest path from a root to a leaf (the steps :meth:`raw` takes), level by level."""
        level, frontier = 0, self.roots
        while True:
            inner = frontier[~self.leaf[frontier]]
            if not len(inner):
                return level
            if level >= len(self.feature):
                raise ValueError("the trees' arrays hold a cycle")
            frontier, level = np.concatenate([self.left[inner], self.right[inner]]), level + 1

    @cached_property
    def sizes(self) -> np.ndarray:
        """The number of nodes of each tree (tree ``t`` holds nodes ``roots[t]`` to ``roots[t] + sizes[t] - 1``)."""
        return np.diff([*self.roots, len(self.feature)])

    @cached_property
    def _compiled(self) -> list | None:
        """scikit-learn's own tree walker (its Cython ``TreePredictor``, OpenMP threads) rebuilt from the
        arrays, one per tree; None where this scikit-learn has no such class (then :meth:`walk` runs)."""
        try:
            from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE, X_BITSET_INNER_DTYPE
            from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
        except ImportError:
            return None
        no_categories = np.zeros((0, 8), dtype=X_BITSET_INNER_DTYPE)
        predictors = []
        for start, end in zip(self.roots, self.roots + self.sizes):
            nodes = np.zeros(end - start, dtype=PREDICTOR_RECORD_DTYPE)
            inner = ~self.leaf[start:end]
            nodes["value"] = self.value[start:end]
            nodes["feature_idx"] = self.feature[start:end]
            nodes["num_threshold"] = self.threshold[start:end]
            nodes["missing_go_to_left"] = self.missing_left[start:end]
            nodes["left"] = np.where(inner, self.left[start:end] - start, 0)
            nodes["right"] = np.where(inner, self.right[start:end] - start, 0)
            nodes["is_leaf"] = ~inner
            predictors.append(TreePredictor(nodes, no_categories, no_categories))
        return predictors

    def raw(self, X: np.ndarray) -> np.ndarray:
        """The raw scores (N, K): the baseline plus every tree's leaf, added in tree order as scikit-learn
        does, by its own walker where it has one."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        if self.feature[~self.leaf].max(initial=-1) >= X.shape[1]:
            raise ValueError(f"the trees split on column {int(self.feature.max())}, but the rows have {X.shape[1]}.")
        if self._compiled is None:
            return self.walk(X)
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads  # as scikit-learn counts them

        threads = _openmp_effective_n_threads()
        known, index = np.zeros((0, 8), dtype=np.uint32), np.zeros(X.shape[1], dtype=np.uint32)
        out = np.tile(self.baseline, (len(X), 1))
        for predictor, output in zip(self._compiled, self.output):
            out[:, output] += predictor.predict(X, known, index, threads)
        return out

    def walk(self, X: np.ndarray, rows: int = 4096) -> np.ndarray:
        """:meth:`raw` in NumPy alone (slower: every row down all trees at once, level by level, in chunks
        of ``rows`` rows); the reference the compiled walker is tested against."""
        X = np.asarray(X, dtype=np.float64)
        depth, out = self.depth, np.empty((len(X), len(self.baseline)))
        for start in range(0, len(X), rows):
            chunk = X[start : start + rows]
            node = np.broadcast_to(self.roots, (len(chunk), len(self.roots))).copy()
            line = np.arange(len(chunk))[:, None]
            for _ in range(depth):
                x = chunk[line, self.feature[node]]
                go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
                node = np.where(self.leaf[node], node, np.where(go_left, self.left[node], self.right[node]))
            leaves = self.value[node]  # (rows, T)
            sums = np.zeros((len(chunk), len(self.baseline)))
            for k in range(len(self.baseline)):  # in tree order, as scikit-learn adds them
                sums[:, k] = leaves[:, self.output == k].sum(1)
            out[start : start + len(chunk)] = self.baseline + sums
        return out

    @property
    def classes_(self) -> np.ndarray:
        return self.classes

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        raw = self.raw(X)
        if self.link == "logistic":
            positive = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.stack([1.0 - positive, positive], axis=1)
        if self.link != "softmax":
            raise ValueError("these trees predict numbers: use predict.")
        shifted = np.exp(raw - raw.max(1, keepdims=True))
        return shifted / shifted.sum(1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.link == "identity":
            return self.raw(X)[:, 0]
        return self.classes[self.predict_proba(X).argmax(1)]
