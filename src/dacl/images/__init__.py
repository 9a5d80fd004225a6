"""The images domain in one place: ResNets, SimCLR's augmentations beside the mixup views, the one engine.

The verbs every domain shares: ``pretrain(images, config)``, ``load_model(folder)``, ``embed(model, images)``,
``load_data(name or folder)``; ``image_config`` gives the paper's set-up.
"""

from dacl.core.augment import SimCLRAugment
from dacl.images.probes import (
    augmented_probe_accuracy,
    crop_and_flip,
    embed_folder,
    scores_of_image_folder,
    scores_of_images,
)
from dacl.images.resnet import ResNet, resnet
from dacl.images.sets import IMAGE_DATASETS, ImageDataset, load_image_dataset
from dacl.images.train import (
    IMAGE_DEFAULTS,
    ImageSource,
    build_image_method,
    check_images,
    embed,
    embed_images,
    image_config,
    load_image_model,
    load_model,
    pretrain,
    pretrain_folder,
    pretrain_images,
)

load_data = load_image_dataset

__all__ = [
    "IMAGE_DATASETS",
    "IMAGE_DEFAULTS",
    "ImageDataset",
    "ImageSource",
    "ResNet",
    "SimCLRAugment",
    "augmented_probe_accuracy",
    "build_image_method",
    "check_images",
    "crop_and_flip",
    "embed",
    "embed_folder",
    "embed_images",
    "image_config",
    "load_image_dataset",
    "load_data",
    "load_image_model",
    "load_model",
    "pretrain",
    "pretrain_folder",
    "pretrain_images",
    "resnet",
    "scores_of_image_folder",
    "scores_of_images",
]
