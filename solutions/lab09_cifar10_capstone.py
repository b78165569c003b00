"""Reference solutions for lab 09, the CIFAR-10 capstone.

Each `# %% cell: ID` region is, word for word, the solution cell ID of
labs/09_cifar10_capstone/09_cifar10_capstone.ipynb: `autograder sync` copies it there and the
test suite fails on any difference. The students' own tools from earlier labs (the range
test of lab 07, early stopping, MC dropout and the weight-decay groups of lab 08) come in as
regions that include those labs' regions by name; they are imported here for the functions
that use them.
"""

import torch.nn.functional as F
from torch import Tensor, nn

from solutions.lab07_lr_schedules import lr_range_test, suggest_lr  # noqa: F401
from solutions.lab08_regularization import (  # noqa: F401
    EarlyStopping,
    McDropout,
    decay_param_groups,
    mc_predict,
)


# %% cell: standardize_channels
def standardize_channels(train: Tensor, *others: Tensor, eps: float = 1e-7) -> tuple[Tensor, ...]:
    """Standardize `train` and each of `others` (N, C, H, W) per channel, with `train`'s statistics."""
    ### BEGIN SOLUTION
    dims = (0, *range(2, train.ndim))          # every dimension but the channels
    mean = train.mean(dim=dims, keepdim=True)
    std = train.std(dim=dims, keepdim=True)
    return tuple((split - mean) / (std + eps) for split in (train, *others))
    ### END SOLUTION


# %% cell: build_mlp
ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU,
               "silu": nn.SiLU, "mish": nn.Mish, "selu": nn.SELU, "tanh": nn.Tanh}


def build_mlp(n_hidden: int = 20, n_neurons: int = 100, activation: str = "silu",
              batch_norm: bool = False, selu: bool = False, alpha_dropout: float = 0.0,
              n_inputs: int = 3 * 32 * 32, n_outputs: int = 10) -> nn.Sequential:
    """A deep MLP: Flatten, n_hidden × (Linear [→ BatchNorm1d] → activation), [AlphaDropout], Linear."""
    ### BEGIN SOLUTION
    if selu and batch_norm:
        raise ValueError("Batch norm breaks the self-normalization of a SELU net: "
                         "use selu=True or batch_norm=True, not both.")
    name = "selu" if selu else activation
    if name not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}: choose one of {', '.join(ACTIVATIONS)}.")
    layers: list[nn.Module] = [nn.Flatten()]
    fan_in = n_inputs
    for _ in range(n_hidden):
        layers.append(nn.Linear(fan_in, n_neurons, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(n_neurons))
        layers.append(ACTIVATIONS[name]())
        fan_in = n_neurons
    if alpha_dropout > 0:
        layers.append(nn.AlphaDropout(alpha_dropout))
    layers.append(nn.Linear(fan_in, n_outputs))
    # He normal: std √(2 / fan_in); LeCun normal: std √(1 / fan_in), the "linear" gain
    nonlinearity = "linear" if selu else "relu"
    for layer in layers:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, nonlinearity=nonlinearity)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)
    ### END SOLUTION


# %% cell: range_test_tools from solutions.lab07_lr_schedules: lr_range_test, suggest_lr


# %% cell: early_stopping_tool from solutions.lab08_regularization: early_stopping


# %% cell: selu_violations
def selu_violations(model: nn.Module) -> list[nn.Module]:
    """The layers of `model` that break a SELU net's self-normalization, in model order."""
    ### BEGIN SOLUTION
    self_normalizing = (nn.Linear, nn.SELU, nn.AlphaDropout, nn.Flatten)
    leaves = [module for module in model.modules() if not list(module.children())]
    return [module for module in leaves if not isinstance(module, self_normalizing)]
    ### END SOLUTION


# %% cell: mc_dropout_tools from solutions.lab08_regularization: mc_dropout, mc_predict


# %% cell: mc_alpha_dropout
class McAlphaDropout(nn.AlphaDropout):
    """Alpha dropout that stays active in eval mode: Monte Carlo alpha dropout."""

    def forward(self, x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        return F.alpha_dropout(x, self.p, training=True)
        ### END SOLUTION


# %% cell: to_mc_dropout
def to_mc_dropout(model: nn.Sequential) -> nn.Sequential:
    """A new Sequential with `model`'s trained layers, its dropout layers swapped for MC versions."""
    ### BEGIN SOLUTION
    def mc_version(layer: nn.Module) -> nn.Module:
        if isinstance(layer, nn.AlphaDropout):
            return McAlphaDropout(layer.p)
        if isinstance(layer, nn.Dropout):
            return McDropout(layer.p)
        return layer

    return nn.Sequential(*[mc_version(layer) for layer in model])
    ### END SOLUTION


# %% cell: configure
def configure(deep: bool, self_normalizing: bool = False, sparse: bool = False,
              low_latency: bool = False, risk_sensitive: bool = False) -> dict:
    """The chapter's configuration for a situation: its default or SELU table, then its exceptions."""
    ### BEGIN SOLUTION
    if self_normalizing and not sparse and not low_latency:      # Table 11-4
        config = {"init": "lecun", "activation": "selu", "normalization": "none",
                  "regularization": {"alpha_dropout"}, "optimizer": "nag"}
    else:                                                         # Table 11-3
        config = {"init": "he", "activation": "swish" if deep else "relu",
                  "normalization": "batch_norm" if deep else "none",
                  "regularization": {"early_stopping", "weight_decay"}, "optimizer": "nag_or_adamw"}
    config["schedule"] = "performance_or_1cycle"
    if sparse:
        config["regularization"].add("l1")
    if low_latency:
        config["activation"] = "relu"
        if config["normalization"] == "batch_norm":
            config["normalization"] = "batch_norm_folded"
    if risk_sensitive:
        config["regularization"].add("mc_dropout")
    return config
    ### END SOLUTION


# %% cell: decay_groups_tool from solutions.lab08_regularization: decay_param_groups


# %% cell: q1_test_once
# Set Q1 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q1 = "d"
### END SOLUTION


# %% cell: q2_self_normalizing
# Set Q2 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q2 = "c"
### END SOLUTION


# %% cell: q3_bn_parameters
# Set Q3 to a number.
### BEGIN SOLUTION
Q3 = 20 * 2 * 100
### END SOLUTION


# %% cell: q4_batch_norm_cost
# Set Q4 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q4 = "a"
### END SOLUTION


# %% cell: q5_label_smoothing
# Set Q5 to a number.
### BEGIN SOLUTION
Q5 = 0.91
### END SOLUTION
