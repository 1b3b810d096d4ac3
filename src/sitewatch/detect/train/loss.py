"""CenterNet losses: penalty-reduced focal loss on the heatmap, L1 on log-size and offset."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def focal_loss(
    pred: Tensor, gt: Tensor, weight: Tensor, alpha: float = 2, beta: float = 4
) -> Tensor:
    pred = pred.clamp(1e-4, 1 - 1e-4)
    pos = gt.eq(1).float()
    neg = (1 - pos) * weight
    pos_loss = torch.log(pred) * (1 - pred) ** alpha * pos
    neg_loss = torch.log(1 - pred) * pred**alpha * (1 - gt) ** beta * neg
    n = pos.sum().clamp(min=1)
    return -(pos_loss.sum() + neg_loss.sum()) / n


def gather(feat: Tensor, index: Tensor) -> Tensor:
    """(B, C, H, W) features at flat cell indices (B, K) → (B, K, C)."""
    b, c = feat.shape[:2]
    flat = feat.view(b, c, -1).permute(0, 2, 1)
    return flat.gather(1, index.unsqueeze(-1).expand(-1, -1, c))


def detection_loss(
    outputs: tuple[Tensor, Tensor, Tensor], t: dict[str, Tensor]
) -> dict[str, Tensor]:
    heat, size, offset = outputs
    mask = t["mask"].unsqueeze(-1)
    n = mask.sum().clamp(min=1)
    l_heat = focal_loss(heat, t["heat"], t["weight"])
    l_size = (F.l1_loss(gather(size, t["index"]), t["wh"], reduction="none") * mask).sum() / n
    l_off = (F.l1_loss(gather(offset, t["index"]), t["offset"], reduction="none") * mask).sum() / n
    total = l_heat + l_size + l_off
    return {"loss": total, "heat": l_heat, "size": l_size, "offset": l_off}
