"""The aircraft detector network: a small residual backbone, a top-down neck, CenterNet heads.

Outputs at stride 4 of the (1 m GSD) model input:
- ``heatmap``: per-class object-centre probability (sigmoid applied in the graph),
- ``size``: log of box width/height in input pixels,
- ``offset``: sub-cell position of the centre (0…1).
Peaks of the heatmap are objects, so counting needs no anchor tuning and little NMS.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sitewatch.learn.blocks import conv_bn, residual_stages


@dataclass(frozen=True)
class NetConfig:
    """Widths per stride (4, 8, 16, 32) and blocks per stage; ``neck`` is the head width."""

    widths: tuple[int, int, int, int] = (32, 64, 96, 128)
    blocks: tuple[int, int, int, int] = (1, 2, 2, 2)
    neck: int = 48
    num_classes: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


def _last_bias(head: nn.Sequential) -> Tensor:
    """The bias of a head's final convolution (torch types ``Sequential[-1]`` as any Module)."""
    conv = head[-1]
    assert isinstance(conv, nn.Conv2d) and conv.bias is not None  # _head ends in a biased Conv2d
    return conv.bias


class CenterNet(nn.Module):
    def __init__(self, cfg: NetConfig = NetConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        self.stem = nn.Sequential(conv_bn(3, 16, 2), conv_bn(16, w[0], 2))
        self.stages = residual_stages(w, cfg.blocks, w[0])
        self.lateral = nn.ModuleList(nn.Conv2d(ch, cfg.neck, 1) for ch in w)
        self.smooth = nn.ModuleList(conv_bn(cfg.neck, cfg.neck) for _ in w[:-1])
        self.heatmap = self._head(cfg.num_classes)
        self.size = self._head(2)
        self.offset = self._head(2)
        prior = 0.01  # start with few positives so the focal loss is stable
        nn.init.constant_(_last_bias(self.heatmap), -math.log((1 - prior) / prior))
        nn.init.constant_(_last_bias(self.size), math.log(40.0))  # typical aircraft at 1 m GSD

    def _head(self, cout: int) -> nn.Sequential:
        return nn.Sequential(
            conv_bn(self.cfg.neck, self.cfg.neck), nn.Conv2d(self.cfg.neck, cout, 1)
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``x``: (N, 3, H, W) RGB in 0…1, H and W multiples of 32."""
        feats = []
        x = self.stem((x - 0.45) / 0.25)
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        y = self.lateral[-1](feats[-1])
        for i in range(len(feats) - 2, -1, -1):
            y = F.interpolate(y, scale_factor=2.0, mode="nearest") + self.lateral[i](feats[i])
            y = self.smooth[i](y)
        return torch.sigmoid(self.heatmap(y)), self.size(y), torch.sigmoid(self.offset(y))
