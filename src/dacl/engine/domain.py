"""What every domain (tables, images, graphs) does alike around the engine: a trained model or an encoder
accepted where an encoder is embedded, and the check that a run made with a user's encoder is loaded
with one.

Each domain offers the same four verbs with the same keywords:
``pretrain(data, config=None, labels=None, *, encoder=None, views=None, checkpoint_dir=None,
checkpoint_every=0, resume=False, progress=True, callbacks=(), metadata=None)``, ``load_model(path,
encoder=None)``, ``embed(model, data)`` and its dataset loader ``load_data(name, data_dir=None)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from dacl.config import PretrainConfig
from dacl.engine.checkpoint import load_checkpoint, read_state
from dacl.engine.loop import PretrainResult

__all__ = ["check_user_encoder", "class_labels", "model_encoder", "read_model_state", "refuse_if_too_big",
           "with_weights"]


def model_encoder(model: nn.Module | PretrainResult, precision: str | None = None) -> tuple[nn.Module, str]:
    """The encoder of ``model`` (a trained model or an encoder) and the precision to embed with: the
    given one, else the model's config's, else float32."""
    if isinstance(model, PretrainResult):
        return model.encoder, precision or model.config.precision
    if not isinstance(model, nn.Module):
        raise ValueError(f"embed needs a trained model (pretrain's result) or an encoder, got {type(model).__name__}.")
    return model, precision or "float32"


def check_user_encoder(state: dict[str, Any], encoder: nn.Module | None, folder: str | Path) -> None:
    """A checkpoint trained with a user's encoder is rebuilt only around a fresh instance of it."""
    if encoder is None and state.get("encoder"):
        raise ValueError(
            f"the checkpoint in {folder} was trained with a user's encoder ({state['encoder']}); "
            "pass a fresh instance of it: load_model(folder, encoder=...)."
        )


def class_labels(labels: Any, n: int, name: str = "labels") -> tuple[Tensor, int]:
    """Labels of method ``supervised`` as class indices (n,) and the number of classes; anything else
    (missing, another length, negative, not whole numbers) is refused with what to do."""
    if labels is None:
        raise ValueError(f"method 'supervised' needs labels ({name}): pass the class index of every sample.")
    array = np.asarray(labels.detach().cpu() if isinstance(labels, Tensor) else labels)
    if array.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one per sample, got {array.shape}.")
    if not np.issubdtype(array.dtype, np.number) or (
        np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array) & (array == np.round(array)))
    ):
        raise ValueError(
            f"{name} must be whole class indices 0..C-1, got {array.dtype} values such as {array[:3].tolist()}; "
            "encode class names or numbers with sklearn.preprocessing.LabelEncoder."
        )
    if array.min() < 0:
        raise ValueError(f"{name} must be class indices 0..C-1, got {int(array.min())}; encode them with LabelEncoder.")
    tensor = torch.as_tensor(array.astype(np.int64))
    return tensor, int(tensor.max()) + 1


def read_model_state(
    checkpoint_dir: str | Path, domain: str, encoder: nn.Module | None
) -> tuple[dict[str, Any], PretrainConfig]:
    """A checkpoint's state and config, refused when it is another domain's model or was trained with a
    user's encoder that ``encoder`` does not give again (nothing is executed from the checkpoint)."""
    state = read_state(checkpoint_dir)
    found = state.get("domain", "tables")
    if found != domain:
        raise ValueError(
            f"the checkpoint in {checkpoint_dir} is a model of {found}, not {domain}; load it with "
            f"dacl.{found}.load_model."
        )
    check_user_encoder(state, encoder, checkpoint_dir)
    return state, PretrainConfig.from_dict(state["config"])


def with_weights(checkpoint_dir: str | Path, method: nn.Module, config: PretrainConfig, state: dict) -> PretrainResult:
    """``method`` with the checkpoint's weights, in eval mode, as a trained model."""
    load_checkpoint(checkpoint_dir, method)
    method.eval()
    return PretrainResult(method, config, state["history"])


def refuse_if_too_big(need: int, device: str | torch.device, run: str, lower: str) -> None:
    """Refuse, before anything is allocated, a run that needs about ``need`` bytes on ``device`` when the
    device has less free (every domain: options whose memory grows with their value); ``run`` describes the
    run, ``lower`` the options to lower."""
    from dacl.core.runtime import available_memory, resolve_device

    device = resolve_device(device)
    free = available_memory(device)
    if free is not None and need > free:
        raise ValueError(f"this run needs about {need / 2**30:.1f} GiB ({run}) and {device} has {free / 2**30:.1f} "
                         f"GiB free; lower {lower}.")  # fmt: skip
