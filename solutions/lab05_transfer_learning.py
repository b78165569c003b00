"""Reference solutions for lab 05, Transfer learning and pretraining.

Each `# %% cell: ID` region is, word for word, the solution cell ID of
labs/05_transfer_learning/05_transfer_learning.ipynb: `autograder sync` copies it there and the
test suite fails on any difference.
"""

import copy
import math
from collections.abc import Sequence

import torch
from scipy import stats
from torch import nn

import labs


# %% cell: split_task_a_b
def split_task_a_b(X: torch.Tensor, y: torch.Tensor, n_b_train: int | None = 20, seed: int = 0,
                   pair: tuple[int, int] = (0, 2)) -> dict:
    """Task A (the 8 classes outside `pair`, relabelled 0..7) and task B (pair[0] vs pair[1]).

    Returns {"a": (X_a, y_a), "b": (X_b, y_b)}: y_a int64 in 0..7, y_b float32 of shape (n, 1),
    1.0 for class pair[0] and 0.0 for class pair[1]; `n_b_train` B images drawn at random
    with `seed` (None keeps every B image, in order).
    """
    ### BEGIN SOLUTION
    positive, negative = pair
    in_b = (y == positive) | (y == negative)
    a_classes = [c for c in range(10) if c not in pair]
    new_label = torch.full((10,), -1, dtype=torch.long, device=y.device)
    new_label[a_classes] = torch.arange(len(a_classes), device=y.device)
    X_a, y_a = X[~in_b], new_label[y[~in_b]]
    b_index = torch.nonzero(in_b).flatten()
    if n_b_train is not None:
        if n_b_train > len(b_index):
            raise ValueError(f"n_b_train={n_b_train} but there are only {len(b_index)} B images.")
        drawn = torch.randperm(len(b_index), generator=torch.Generator().manual_seed(seed))
        b_index = b_index[drawn[:n_b_train].to(b_index.device)]
    X_b = X[b_index]
    y_b = (y[b_index] == positive).float().unsqueeze(1)
    return {"a": (X_a, y_a), "b": (X_b, y_b)}
    ### END SOLUTION


# %% cell: reuse_body
def reuse_body(model_a: nn.Sequential, n_outputs: int) -> nn.Sequential:
    """A new model: a deep copy of every layer of `model_a` but the last, then a new nn.Linear head."""
    ### BEGIN SOLUTION
    body = copy.deepcopy(model_a[:-1])
    old_head = model_a[-1]
    head = nn.Linear(old_head.in_features, n_outputs, device=old_head.weight.device,
                     dtype=old_head.weight.dtype)
    return nn.Sequential(*body, head)
    ### END SOLUTION


# %% cell: set_trainable
def set_trainable(module: nn.Module, trainable: bool) -> nn.Module:
    """Freeze (False) or unfreeze (True) every parameter of `module`, nested ones included."""
    ### BEGIN SOLUTION
    for parameter in module.parameters():
        parameter.requires_grad = trainable
    return module
    ### END SOLUTION


# %% cell: param_groups
def param_groups(model: nn.Sequential, body_lr: float, head_lr: float) -> list[dict]:
    """Two optimizer parameter groups: the body at `body_lr`, the last layer (the head) at `head_lr`."""
    ### BEGIN SOLUTION
    head = list(model[-1].parameters())
    head_ids = {id(parameter) for parameter in head}
    body = [parameter for parameter in model.parameters() if id(parameter) not in head_ids]
    return [{"params": body, "lr": body_lr}, {"params": head, "lr": head_lr}]
    ### END SOLUTION


# %% cell: fine_tune
def fine_tune(model: nn.Sequential, data: dict, frozen_epochs: int, unfrozen_epochs: int,
              lr: float, unfrozen_lr: float) -> labs.History:
    """Train the head alone (body frozen) at `lr`, then everything at `unfrozen_lr`; one History."""
    ### BEGIN SOLUTION
    loss_fn = nn.BCEWithLogitsLoss()
    set_trainable(model, False)
    set_trainable(model[-1], True)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                                lr=lr, momentum=0.9)
    frozen = labs.fit(model, optimizer, data["train"], data["valid"], epochs=frozen_epochs,
                      batch_size=32, loss_fn=loss_fn, progress=False)
    set_trainable(model, True)
    optimizer = torch.optim.SGD(model.parameters(), lr=unfrozen_lr, momentum=0.9)
    unfrozen = labs.fit(model, optimizer, data["train"], data["valid"], epochs=unfrozen_epochs,
                        batch_size=32, loss_fn=loss_fn, progress=False)
    records = frozen.records + unfrozen.records
    return labs.History([{**record, "epoch": epoch} for epoch, record in enumerate(records, start=1)])
    ### END SOLUTION


# %% cell: paired_gain
def paired_gain(scratch: Sequence[float], transfer: Sequence[float], confidence: float = 0.95) -> dict:
    """The mean per-seed gain transfer[i] - scratch[i] and its two-sided Student-t interval.

    Returns {"mean", "low", "high"} as floats and the number of seeds {"n"}. Paired: both runs
    of a seed share its draw, so their difference cancels the luck of that draw.
    """
    ### BEGIN SOLUTION
    if len(scratch) != len(transfer):
        raise ValueError(f"pass one accuracy per seed for each method, in the same seed order: got "
                         f"{len(scratch)} from scratch and {len(transfer)} with transfer.")
    n = len(scratch)
    if n < 2:
        raise ValueError(f"pass the accuracies of at least 2 seeds, got {n}: the spread of the "
                         f"gains needs two of them.")
    gains = [float(after) - float(before) for before, after in zip(scratch, transfer)]
    mean = sum(gains) / n
    std = math.sqrt(sum((gain - mean) ** 2 for gain in gains) / (n - 1))
    t = float(stats.t.ppf((1 + confidence) / 2, n - 1))
    half_width = t * std / math.sqrt(n)
    return {"mean": mean, "low": mean - half_width, "high": mean + half_width, "n": n}
    ### END SOLUTION


# %% cell: q1_why_freeze
# Set Q1 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q1 = "b"
### END SOLUTION


# %% cell: q2_trainable_count
# Set Q2 to a number.
### BEGIN SOLUTION
Q2 = 153
### END SOLUTION


# %% cell: q3_lucky_seed
# Set Q3 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q3 = "d"
### END SOLUTION


# %% cell: q4_dense_nets
# Set Q4 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q4 = "c"
### END SOLUTION


# %% cell: q5_auxiliary_task
# Set Q5 to "a", "b", "c" or "d".
### BEGIN SOLUTION
Q5 = "a"
### END SOLUTION
