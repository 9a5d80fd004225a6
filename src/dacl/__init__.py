"""dacl: domain-agnostic contrastive learning with Mixup noise.

Verma, Luong, Kawaguchi, Pham, Le, "Towards Domain-Agnostic Contrastive Learning", ICML 2021.
"""

from dacl.estimator import DACL
from dacl.losses import NTXentLoss
from dacl.noise import BinaryMixup, GaussianNoise, GeometricMixup, LinearMixup, MixupPlus
from dacl.train import PretrainConfig, load_model, pretrain

__version__ = "0.1.0"

__all__ = [
    "DACL",
    "BinaryMixup",
    "GaussianNoise",
    "GeometricMixup",
    "LinearMixup",
    "MixupPlus",
    "NTXentLoss",
    "PretrainConfig",
    "load_model",
    "pretrain",
    "__version__",
]
