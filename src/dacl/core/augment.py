"""SimCLR's image augmentations (Chen et al., 2020, Appendix A), batched on the run's device: the
views of the SimCLR and SimCLR+DACL rows of Table 2 of Verma et al. (ICML 2021).

Per image, independently: a random resized crop (area a share U(0.08, 1) of the image, aspect ratio
log-uniform in [3/4, 4/3], resized back to the input size, bilinear), a horizontal flip (p 0.5), colour
jitter with probability 0.8 (brightness, contrast and saturation factors in [1 - 0.8 s, 1 + 0.8 s],
hue shift in [-0.2 s, 0.2 s] of the colour circle; strength s = 0.5 for CIFAR, 1 for ImageNet),
grayscale with probability 0.2, and Gaussian blur with probability 0.5 (σ in [0.1, 2], kernel about
a tenth of the side; SimCLR blurs ImageNet images, not CIFAR's 32 x 32: ``blur=None`` decides by size).

Every draw comes from the run's generator, for the whole batch at once and on the batch's device, so
views are seeded, repeat exactly on the CPU, resume exactly from a checkpoint and never make the host
wait for the device. kornia's augmentation modules draw from torch's global random state (no
generator argument), so this module makes its own draws and leaves the pixel work to kornia's
batched kernels (``crop_and_resize``, ``rgb_to_hsv``/``hsv_to_rgb``, ``rgb_to_grayscale``,
``gaussian_blur2d``). Two simplifications against torchvision's per-image pipeline: a crop whose side
would exceed the image is clipped to the image (torchvision redraws up to ten times), and the four
jitter operations run in a fixed order (torchvision: a random order per call).

Images are float tensors (N, C, H, W) in [0, 1] with C = 3 (RGB) or 1 (gray: no saturation, hue or
grayscale step).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["SimCLRAugment"]


class SimCLRAugment:
    """One SimCLR view of every image (``augment(x, generator)``); ``pair`` draws two independently."""

    non_negative = False

    def __init__(
        self,
        crop_scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        flip: float = 0.5,
        jitter_strength: float = 0.5,
        jitter: float = 0.8,
        grayscale: float = 0.2,
        blur: bool | None = None,
        blur_probability: float = 0.5,
    ) -> None:
        low, high = map(float, crop_scale)
        if not 0 < low <= high <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1 (shares of the image), got {crop_scale}.")
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"ratio must satisfy 0 < low <= high, got {ratio}.")
        if not 0 <= jitter_strength <= 1.25:
            raise ValueError(f"jitter_strength must lie in [0, 1.25] (factors stay positive), got {jitter_strength}.")
        for name, p in (("flip", flip), ("jitter", jitter), ("grayscale", grayscale), ("blur", blur_probability)):
            if not 0 <= p <= 1:
                raise ValueError(f"the {name} probability must lie in [0, 1], got {p}.")
        self.crop_scale = (low, high)
        self.ratio = (float(ratio[0]), float(ratio[1]))
        self.flip = flip
        self.jitter_strength = float(jitter_strength)
        self.jitter = jitter
        self.grayscale = grayscale
        self.blur = blur
        self.blur_probability = blur_probability

    def blurs(self, height: int, width: int) -> bool:
        """Whether images of this size are blurred: as set, or (``blur=None``) when larger than 32 x 32."""
        return self.blur if self.blur is not None else min(height, width) > 32

    def draw(
        self, n: int, height: int, width: int, generator: torch.Generator | None, device=None
    ) -> dict[str, Tensor]:
        """The random parameters of ``n`` views of (height x width) images, all drawn at once."""

        def uniform(low: float, high: float) -> Tensor:
            return low + (high - low) * torch.rand(n, generator=generator, device=device)

        def coin(p: float) -> Tensor:
            return torch.rand(n, generator=generator, device=device) < p

        area = uniform(*self.crop_scale) * (height * width)
        aspect = torch.exp(uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
        crop_w = torch.sqrt(area * aspect).round().clamp(1, width)
        crop_h = torch.sqrt(area / aspect).round().clamp(1, height)
        left = torch.floor(uniform(0, 1) * (width - crop_w + 1)).clamp(max=width - crop_w)
        top = torch.floor(uniform(0, 1) * (height - crop_h + 1)).clamp(max=height - crop_h)
        s = 0.8 * self.jitter_strength
        return {
            "box": torch.stack([left, top, crop_w, crop_h], dim=1),
            "flip": coin(self.flip),
            "jitter": coin(self.jitter),
            "brightness": uniform(1 - s, 1 + s),
            "contrast": uniform(1 - s, 1 + s),
            "saturation": uniform(1 - s, 1 + s),
            "hue": uniform(-0.2 * self.jitter_strength, 0.2 * self.jitter_strength),  # share of the colour circle
            "grayscale": coin(self.grayscale),
            "blur": coin(self.blur_probability),
            "sigma": uniform(0.1, 2.0),
        }

    def apply(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        """The views of the images ``x`` (N, C, H, W) under drawn ``params``."""
        from kornia.color import hsv_to_rgb, rgb_to_grayscale, rgb_to_hsv
        from kornia.filters import gaussian_blur2d
        from kornia.geometry.transform import crop_and_resize

        n, channels, height, width = x.shape
        dtype = x.dtype
        x = x.float()
        left, top, crop_w, crop_h = params["box"].unbind(1)
        right, bottom = left + crop_w - 1, top + crop_h - 1
        corners = torch.stack(
            [torch.stack([left, top], 1), torch.stack([right, top], 1),
             torch.stack([right, bottom], 1), torch.stack([left, bottom], 1)], dim=1,
        )  # fmt: skip
        x = crop_and_resize(x, corners, (height, width), align_corners=True)
        x = torch.where(params["flip"].view(n, 1, 1, 1), x.flip(-1), x)

        def factor(name: str) -> Tensor:  # the identity where this image is not jittered
            return torch.where(params["jitter"], params[name], torch.ones_like(params[name])).view(n, 1, 1, 1)

        x = (x * factor("brightness")).clamp(0, 1)
        gray = rgb_to_grayscale(x) if channels == 3 else x
        mean = gray.mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - mean) * factor("contrast") + mean).clamp(0, 1)
        if channels == 3:
            gray = rgb_to_grayscale(x)
            x = ((x - gray) * factor("saturation") + gray).clamp(0, 1)
            hsv = rgb_to_hsv(x)
            shift = torch.where(params["jitter"], params["hue"], torch.zeros_like(params["hue"])) * (2 * math.pi)
            hue = torch.remainder(hsv[:, :1] + shift.view(n, 1, 1, 1), 2 * math.pi)
            x = hsv_to_rgb(torch.cat([hue, hsv[:, 1:]], dim=1)).clamp(0, 1)
            x = torch.where(params["grayscale"].view(n, 1, 1, 1), rgb_to_grayscale(x).expand_as(x), x)
        if self.blurs(height, width):
            if min(height, width) < 3:
                raise ValueError(
                    f"Gaussian blur needs images of at least 3 x 3 pixels (its smallest kernel); these are "
                    f"{height} x {width}: set blur=False (--blur off) or use larger images."
                )
            kernel = max(3, (min(height, width) // 10) | 1)  # odd, about a tenth of the side
            sigma = params["sigma"].view(n, 1).expand(n, 2).contiguous()
            x = torch.where(params["blur"].view(n, 1, 1, 1), gaussian_blur2d(x, kernel, sigma), x)
        return x.to(dtype)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(
                f"SimCLR augmentations need images (N, C, H, W) with C = 1 or 3, got shape {tuple(x.shape)}; "
                "mix hidden layers with mixup views instead (mix_at > 0 applies the views inside the encoder)."
            )
        return self.apply(x, self.draw(len(x), x.shape[2], x.shape[3], generator, x.device))

    def pair(
        self, x: Tensor, generator: torch.Generator | None = None, *, validate: bool = True
    ) -> tuple[Tensor, Tensor]:
        """Two independent views of every image (SimCLR's positive pair)."""
        return self(x, generator), self(x, generator)

    def __repr__(self) -> str:
        return f"SimCLRAugment(crop_scale={self.crop_scale}, jitter_strength={self.jitter_strength}, blur={self.blur})"
