"""Reference solutions for lab 01, Initialization.

Each `# %% cell: ID` region is, word for word, the solution cell ID of
labs/01_initialization/01_initialization.ipynb: `autograder sync` copies it there and the
test suite fails on any difference.
"""

import math
from collections.abc import Sequence

import torch
from torch import nn


# %% cell: init_std
def init_std(fan_in: int, fan_out: int, scheme: str) -> float:
    """Standard deviation of the initial weights for `scheme`: "glorot", "he" or "lecun"."""
    ### BEGIN SOLUTION
    if scheme == "glorot":
        fan = (fan_in + fan_out) / 2
        gain = 1.0
    elif scheme == "he":
        fan, gain = fan_in, 2.0
    elif scheme == "lecun":
        fan, gain = fan_in, 1.0
    else:
        raise ValueError(f"Unknown scheme {scheme!r}: use 'glorot', 'he' or 'lecun'.")
    return math.sqrt(gain / fan)
    ### END SOLUTION


# %% cell: uniform_bound
def uniform_bound(std: float) -> float:
    """Half-width r of the uniform distribution U(-r, r) whose standard deviation is `std`."""
    ### BEGIN SOLUTION
    return math.sqrt(3 * std**2)
    ### END SOLUTION


# %% cell: init_linear
def init_linear_(layer: nn.Linear, scheme: str, distribution: str = "normal") -> nn.Linear:
    """Initialize `layer` in place for `scheme`, from a "normal" or "uniform" distribution; zero bias."""
    ### BEGIN SOLUTION
    std = init_std(layer.in_features, layer.out_features, scheme)
    with torch.no_grad():
        if distribution == "normal":
            layer.weight.normal_(0.0, std)
        elif distribution == "uniform":
            r = uniform_bound(std)
            layer.weight.uniform_(-r, r)
        else:
            raise ValueError(f"Unknown distribution {distribution!r}: use 'normal' or 'uniform'.")
        if layer.bias is not None:
            layer.bias.zero_()
    return layer
    ### END SOLUTION


# %% cell: apply_init
def apply_init(model: nn.Module, scheme: str, distribution: str = "normal") -> nn.Module:
    """Initialize every nn.Linear of `model` with `init_linear_`, through `model.apply`."""
    ### BEGIN SOLUTION
    def init_if_linear(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            init_linear_(module, scheme, distribution)

    return model.apply(init_if_linear)
    ### END SOLUTION


# %% cell: layer_stats
def layer_stats(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn) -> list[dict]:
    """Per nn.Linear of `model`: mean and std of its output, and the norm of its weight gradient."""
    ### BEGIN SOLUTION
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    outputs = {}

    def remember_output(module, inputs, output):
        outputs[module] = output.detach()

    handles = [layer.register_forward_hook(remember_output) for layer in linears]
    try:
        model.zero_grad()
        loss_fn(model(X), y).backward()
    finally:
        for handle in handles:
            handle.remove()
    return [{"mean": outputs[layer].mean().item(),
             "std": outputs[layer].std().item(),
             "grad_norm": layer.weight.grad.norm().item()} for layer in linears]
    ### END SOLUTION


# %% cell: vanishing_depth
def vanishing_depth(grad_norms: Sequence[float], threshold: float = 1e-2) -> int | None:
    """Depth, counted back from the output layer (depth 1), of the first layer whose weight-gradient
    norm is strictly below `threshold` × the output layer's; None if no layer's is."""
    ### BEGIN SOLUTION
    if len(grad_norms) == 0:
        raise ValueError("grad_norms is empty: pass one weight-gradient norm per Linear layer.")
    floor = threshold * grad_norms[-1]
    for depth, norm in enumerate(reversed(grad_norms), start=1):
        if norm < floor:
            return depth
    return None
    ### END SOLUTION


# %% cell: variance_gain
def variance_gain(activation: str, alpha: float = 0.01) -> float:
    """E[f(z)²] / Var(z) for a zero-mean symmetric pre-activation z: one layer multiplies the
    variance by fan_in · σ² · this gain (`alpha`: the negative slope of "leaky_relu")."""
    ### BEGIN SOLUTION
    if activation == "relu":
        return 0.5
    if activation == "leaky_relu":
        return (1 + alpha**2) / 2
    if activation in ("tanh", "linear"):
        return 1.0
    raise ValueError(f"Unknown activation {activation!r}: use 'relu', 'leaky_relu', 'tanh' or 'linear'.")
    ### END SOLUTION


# %% cell: orthogonal_init
def orthogonal_init_(layer: nn.Linear) -> nn.Linear:
    """Give `layer` a random (semi-)orthogonal weight matrix from a QR decomposition; zero bias."""
    ### BEGIN SOLUTION
    rows, cols = layer.weight.shape
    A = torch.randn(max(rows, cols), min(rows, cols))
    Q, R = torch.linalg.qr(A)
    Q = Q * torch.sign(torch.diagonal(R))
    W = Q if rows >= cols else Q.T
    with torch.no_grad():
        layer.weight.copy_(W)
        if layer.bias is not None:
            layer.bias.zero_()
    return layer
    ### END SOLUTION


# %% cell: q1_same_value
# Set Q1 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q1 = "c"
### END SOLUTION


# %% cell: q2_zero_bias
# Set Q2 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q2 = "d"
### END SOLUTION


# %% cell: q3_he_std
# Set Q3 to a number.
### BEGIN SOLUTION
Q3 = 0.1
### END SOLUTION


# %% cell: q4_default_ratio
# Set Q4 to a number.
### BEGIN SOLUTION
Q4 = 1 / math.sqrt(3)
### END SOLUTION


# %% cell: q5_selu_init
# Set Q5 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q5 = "a"
### END SOLUTION


# %% cell: q6_relu_default_factor
# Set Q6 to a number.
### BEGIN SOLUTION
Q6 = 1 / 6
### END SOLUTION
