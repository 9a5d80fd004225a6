"""dacl: domain-agnostic contrastive learning with Mixup noise.

Verma, Luong, Kawaguchi, Pham, Le, "Towards Domain-Agnostic Contrastive Learning", ICML 2021.

The names below load on first use, so ``import dacl`` costs only torch: the estimator (scikit-learn,
pandas) is imported when ``dacl.DACL`` is first touched.
"""

import os
from importlib import import_module
from typing import Any

# Intel MKL's matrix products in an order that depends neither on the thread count nor on the memory's
# alignment (its "strict conditional numerical reproducibility", the fastest code path kept; measured: the
# same speed): read once, at MKL's first call, so set before torch computes anything. A value the user
# set is kept. With dacl.core.batchnorm, pretraining gave the same encoder on 1 and 2 threads in the float32
# cases measured (bf16: not for every shape, docs/guide/tables.md).
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

from dacl._aliases import install as _install_moved_paths

_install_moved_paths()  # the module paths of earlier releases (dacl.study, dacl.reproduce, ...): dacl._aliases

__version__ = "0.1.0"

_EXPORTS = {
    "DACL": "dacl.tables.transformer",
    "DACLClassifier": "dacl.tables.semisupervised.estimators",
    "DACLRegressor": "dacl.tables.semisupervised.estimators",
    "load_predictor": "dacl.tables.semisupervised.folder",
    "BinaryMixup": "dacl.core.views",
    "Compose": "dacl.core.views",
    "GaussianNoise": "dacl.core.views",
    "GeometricMixup": "dacl.core.views",
    "LinearMixup": "dacl.core.views",
    "MixupPlus": "dacl.core.views",
    "Pair": "dacl.core.views",
    "ScarfCorruption": "dacl.core.views",
    "SummedPairs": "dacl.core.views",
    "SimCLRAugment": "dacl.core.augment",
    "ResNet": "dacl.images.resnet",
    "NTXentLoss": "dacl.core.losses",
    "MLPEncoder": "dacl.core.encoders",
    "PretrainConfig": "dacl.config",
    "PretrainResult": "dacl.engine.loop",
    "fit": "dacl.engine.loop",
    "METHODS": "dacl.methods",
    "load_model": "dacl.tables",
    "pretrain": "dacl.tables",
    "pretrain_images": "dacl.images.train",
    "image_config": "dacl.images.train",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dacl' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
