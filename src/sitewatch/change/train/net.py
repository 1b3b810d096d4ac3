"""The change network: one small residual encoder applied to both dates (shared weights),
their features compared at four scales (the absolute difference, and the mean for what is
there), and a top-down decoder to a change logit per pixel.

Symmetric in the dates by construction (difference and mean do not care which is first), so
"appeared" and "removed" are learnt alike. Its inputs are each date standardised per band
over the whole image (``change.model.standardised``): a change of gain and offset (another
sun, sensor, haze) is not a change, and tiles of one image share one scale.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sitewatch.learn.blocks import conv_bn, residual_stages

MULTIPLE = 16  # the input's sides must be multiples of this (four halvings)


@dataclass(frozen=True)
class ChangeNetConfig:
    """Encoder widths at strides 2, 4, 8 and 16, residual blocks per stage, decoder width."""

    # sized to train in about an hour on two CPU cores (~0.6 s a step of 8 pairs of 224²
    # with AVX-512, ~3× that without)
    widths: tuple[int, int, int, int] = (16, 32, 64, 96)
    blocks: tuple[int, int, int, int] = (1, 1, 2, 2)
    decoder: int = 24

    def to_dict(self) -> dict:
        return asdict(self)


class ChangeNet(nn.Module):
    def __init__(self, cfg: ChangeNetConfig = ChangeNetConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        self.stem = conv_bn(3, w[0], 2)
        self.stages = residual_stages(w, cfg.blocks, w[0])
        self.fuse = nn.ModuleList(conv_bn(2 * ch, cfg.decoder) for ch in w)
        self.smooth = nn.ModuleList(conv_bn(cfg.decoder, cfg.decoder) for _ in w[:-1])
        self.head = nn.Sequential(conv_bn(cfg.decoder, cfg.decoder), nn.Conv2d(cfg.decoder, 1, 1))
        prior = 0.05  # change is rare: start there so the first steps are calm
        last = self.head[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        nn.init.constant_(last.bias, -math.log((1 - prior) / prior))

    def encode(self, x: Tensor) -> list[Tensor]:
        x = self.stem(x)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats

    def forward(self, before: Tensor, after: Tensor) -> Tensor:
        """Change logits (N, 1, H, W) of two standardised (N, 3, H, W) dates of one grid."""
        n = before.shape[0]
        both = self.encode(torch.cat([before, after]))  # one pass: shared batch statistics
        fused = [
            fuse(torch.cat([(f[:n] - f[n:]).abs(), (f[:n] + f[n:]) / 2], dim=1))
            for fuse, f in zip(self.fuse, both, strict=True)
        ]
        y = fused[-1]
        for i in range(len(fused) - 2, -1, -1):
            y = F.interpolate(y, size=fused[i].shape[-2:], mode="nearest") + fused[i]
            y = self.smooth[i](y)
        return F.interpolate(self.head(y), size=before.shape[-2:], mode="bilinear")


class Probability(nn.Module):
    """What is exported: the change probability (sigmoid in the graph)."""

    def __init__(self, net: ChangeNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, before: Tensor, after: Tensor) -> Tensor:
        return torch.sigmoid(self.net(before, after))
