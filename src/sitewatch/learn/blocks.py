"""Network building blocks the detectors and the change model share."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F


def conv_bn(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def residual_stages(widths: tuple[int, ...], blocks: tuple[int, ...], cin: int) -> nn.ModuleList:
    """Stages of residual blocks, each after the first halving the resolution first."""
    stages = []
    for i, (ch, n) in enumerate(zip(widths, blocks, strict=True)):
        layers: list[nn.Module] = [] if i == 0 else [conv_bn(cin, ch, 2)]
        layers += [Residual(ch) for _ in range(n)]
        stages.append(nn.Sequential(*layers))
        cin = ch
    return nn.ModuleList(stages)


class Residual(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.a = conv_bn(ch, ch)
        self.b = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch))

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.b(self.a(x)))
