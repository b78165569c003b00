"""Plain MLPs of any depth: the network most labs experiment on."""

from __future__ import annotations

from torch import nn


def make_mlp(depth: int, width: int, activation: type[nn.Module] = nn.ReLU, n_inputs: int = 784,
             n_outputs: int = 10) -> nn.Sequential:
    """`Flatten`, then `depth` hidden layers of `width` units (each `Linear` + `activation()`),
    then a `Linear` output layer with one logit per class. PyTorch's default init throughout."""
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be at least 1, got depth={depth}, width={width}.")
    layers: list[nn.Module] = [nn.Flatten()]
    for fan_in in [n_inputs] + [width] * (depth - 1):
        layers += [nn.Linear(fan_in, width), activation()]
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)
