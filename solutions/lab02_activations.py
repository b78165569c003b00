"""Reference solutions for lab 02, Activation functions.

Each `# %% cell: ID` region is, word for word, the solution cell ID of
labs/02_activations/02_activations.ipynb: `autograder sync` copies it there and the test
suite fails on any difference.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


# %% cell: dead_fraction
def dead_fraction(model: nn.Module, X: torch.Tensor) -> list[float]:
    """Per nn.ReLU of `model`: the fraction of its units that output 0 for every instance of X."""
    ### BEGIN SOLUTION
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    outputs = {}

    def remember_output(module, inputs, output):
        outputs[module] = output.detach()

    handles = [relu.register_forward_hook(remember_output) for relu in relus]
    try:
        with torch.no_grad():
            model(X)
    finally:
        for handle in handles:
            handle.remove()
    return [(outputs[relu] == 0).all(dim=0).float().mean().item() for relu in relus]
    ### END SOLUTION


# %% cell: leaky_relu
def leaky_relu(z: torch.Tensor, alpha: float = 0.01) -> torch.Tensor:
    """Leaky ReLU: z where z > 0, alpha·z elsewhere."""
    ### BEGIN SOLUTION
    return torch.where(z > 0, z, alpha * z)
    ### END SOLUTION


# %% cell: elu
def elu(z: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """ELU: z where z > 0, alpha·(exp(z) − 1) elsewhere."""
    ### BEGIN SOLUTION
    return torch.where(z > 0, z, alpha * torch.expm1(torch.clamp(z, max=0)))  # no exp overflow, no NaN grad
    ### END SOLUTION


# %% cell: selu
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def selu(z: torch.Tensor) -> torch.Tensor:
    """SELU: SELU_SCALE · ELU with alpha = SELU_ALPHA (PyTorch's constants)."""
    ### BEGIN SOLUTION
    return SELU_SCALE * torch.where(z > 0, z, SELU_ALPHA * torch.expm1(torch.clamp(z, max=0)))
    ### END SOLUTION


# %% cell: gelu
def gelu(z: torch.Tensor) -> torch.Tensor:
    """Exact GELU: z·Φ(z), with Φ the standard normal CDF written with torch.erf."""
    ### BEGIN SOLUTION
    return 0.5 * z * (1 + torch.erf(z / math.sqrt(2)))
    ### END SOLUTION


# %% cell: gelu_sigmoid
def gelu_sigmoid(z: torch.Tensor) -> torch.Tensor:
    """GELU's sigmoid approximation: z·σ(1.702·z)."""
    ### BEGIN SOLUTION
    return z * torch.sigmoid(1.702 * z)
    ### END SOLUTION


# %% cell: swish
def swish(z: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Swish: z·σ(beta·z); beta = 1 is SiLU."""
    ### BEGIN SOLUTION
    return z * torch.sigmoid(beta * z)
    ### END SOLUTION


# %% cell: mish
def mish(z: torch.Tensor) -> torch.Tensor:
    """Mish: z·tanh(softplus(z)), with softplus(z) = log(1 + exp(z))."""
    ### BEGIN SOLUTION
    return z * torch.tanh(F.softplus(z))
    ### END SOLUTION


# %% cell: relu_squared
def relu_squared(z: torch.Tensor) -> torch.Tensor:
    """ReLU²: max(0, z)²."""
    ### BEGIN SOLUTION
    return torch.clamp(z, min=0) ** 2
    ### END SOLUTION


# %% cell: swish_layer
class Swish(nn.Module):
    """Swish z·σ(β·z) as a layer; β is a learnable parameter unless `learnable=False`."""

    def __init__(self, beta: float = 1.0, learnable: bool = True):
        super().__init__()
        ### BEGIN SOLUTION
        if learnable:
            self.beta = nn.Parameter(torch.tensor(float(beta)))
        else:
            self.register_buffer("beta", torch.tensor(float(beta)))
        ### END SOLUTION

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        return z * torch.sigmoid(self.beta * z)
        ### END SOLUTION


# %% cell: swiglu
class SwiGLU(nn.Module):
    """SwiGLU: one nn.Linear(in_features, 2·out_features), split in halves z1, z2: silu(β·z1)·z2."""

    def __init__(self, in_features: int, out_features: int, beta: float = 1.0):
        super().__init__()
        ### BEGIN SOLUTION
        self.linear = nn.Linear(in_features, 2 * out_features)
        self.beta = beta
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        z1, z2 = self.linear(x).chunk(2, dim=-1)
        return F.silu(self.beta * z1) * z2
        ### END SOLUTION


# %% cell: elu_grad
def elu_grad(z: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """dELU/dz: 1 for z > 0, alpha·exp(z) for z ≤ 0 (the left branch at the kink, as PyTorch)."""
    ### BEGIN SOLUTION
    return torch.where(z > 0, torch.ones_like(z), alpha * torch.exp(z))  # where drops exp's inf
    ### END SOLUTION


# %% cell: gelu_tanh_grad
def gelu_tanh_grad(z: torch.Tensor) -> torch.Tensor:
    """d/dz of GELU's tanh approximation 0.5·z·(1 + tanh(u)), u = √(2/π)·(z + 0.044715·z³)."""
    ### BEGIN SOLUTION
    c = math.sqrt(2 / math.pi)
    t = torch.tanh(c * (z + 0.044715 * z**3))
    du_dz = c * (1 + 3 * 0.044715 * z**2)
    return 0.5 * (1 + t) + 0.5 * z * (1 - t**2) * du_dz
    ### END SOLUTION


# %% cell: swish_grad
def swish_grad(z: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """d/dz of z·σ(βz): σ(βz) + βz·σ(βz)·(1 − σ(βz))."""
    ### BEGIN SOLUTION
    s = torch.sigmoid(beta * z)
    return s + beta * z * s * (1 - s)
    ### END SOLUTION


# %% cell: q1_dead_relu
# Set Q1 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q1 = "d"
### END SOLUTION


# %% cell: q2_selu_setup
# Set Q2 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q2 = "a"
### END SOLUTION


# %% cell: q3_leaky_gain
# Set Q3 to a number.
### BEGIN SOLUTION
Q3 = math.sqrt(2 / (1 + 0.2**2))
### END SOLUTION


# %% cell: q4_selu_floor
# Set Q4 to a number.
### BEGIN SOLUTION
Q4 = -1.7580993408473766
### END SOLUTION


# %% cell: q5_latency
# Set Q5 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q5 = "b"
### END SOLUTION
