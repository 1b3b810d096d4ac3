"""Shared mechanics of the models sitewatch trains (torch, the ``train`` extra): network
building blocks, the learning-rate schedule, the weight average, and checkpoints that are
whole or absent and refuse to resume another recipe. Kernel: imports no stage."""
