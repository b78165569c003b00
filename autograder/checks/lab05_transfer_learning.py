"""Hidden tests of lab 05, Transfer learning and pretraining: one function per grade cell, named after it.

Expected values come from PyTorch where it has the thing (`nn.Module.requires_grad_` for
freezing, the optimizer's own parameter-group checks) and from `solutions` otherwise
(the task split, the fine-tuning schedule).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

import labs
from autograder.checks.core import (
    call,
    expect,
    expect_choice,
    expect_close,
    expect_number,
    fail,
    hidden_test,
    reference,
    with_globals,
)

ref = reference("solutions.lab05_transfer_learning")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


# --- Exercise 1: split_task_a_b ------------------------------------------------------------

def _numbered_images(n: int) -> torch.Tensor:
    """n tiny images; image i is filled with the number i, so a returned image names its row."""
    return torch.arange(n, dtype=torch.float32).reshape(n, 1, 1, 1).expand(n, 1, 2, 2).clone()


def _rows(images: torch.Tensor) -> list[int]:
    return images[:, 0, 0, 0].round().long().tolist()


def _unpack(task: object, key: str, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    pair = task[key]
    expect(isinstance(pair, (tuple, list)) and len(pair) == 2
           and all(isinstance(t, torch.Tensor) for t in pair),
           f"{where}: task[{key!r}] must be a pair (X, y) of tensors, got {type(pair).__name__}.")
    return pair[0], pair[1]


def _check_split(split_task_a_b, X: torch.Tensor, y: torch.Tensor, n_b_train, seed: int,
                 pair: tuple[int, int] | None) -> list[int]:
    kwargs = {} if pair is None else {"pair": pair}
    positive, negative = pair or (0, 2)
    names = f"{FASHION_CLASSES[positive]} ({positive}) and {FASHION_CLASSES[negative]} ({negative})"
    where = f"split_task_a_b(X, y, n_b_train={n_b_train}, seed={seed}{', pair=' + str(pair) if pair else ''})"
    y_before = y.clone()
    task = call(split_task_a_b, X, y, n_b_train, seed, what=where, **kwargs)
    expect(torch.equal(y, y_before), f"{where} changed the labels y it was given: relabel a copy.")
    expect(isinstance(task, dict) and set(task) == {"a", "b"},
           f"{where} must return a dict with exactly the keys 'a' and 'b', got "
           f"{sorted(task) if isinstance(task, dict) else type(task).__name__}.")
    X_a, y_a = _unpack(task, "a", where)
    X_b, y_b = _unpack(task, "b", where)
    a_classes = [c for c in range(10) if c not in (positive, negative)]
    in_a = torch.isin(y, torch.tensor(a_classes))
    rows_a = _rows(X_a)
    expect(len(rows_a) == len(y_a), f"{where}: task A has {len(rows_a)} images but {len(y_a)} labels.")
    expect(sorted(rows_a) == torch.nonzero(in_a).flatten().tolist(),
           f"{where}: task A must hold every image of the 8 classes other than {names}, "
           f"each once, and none of those two classes.")
    expect(y_a.dtype == torch.long, f"{where}: task A labels must be int64 class indices, got {y_a.dtype}.")
    new_label = {old: new for new, old in enumerate(a_classes)}
    expected_a = torch.tensor([new_label[int(y[r])] for r in rows_a], dtype=torch.long)
    if not torch.equal(y_a.reshape(-1).cpu(), expected_a):
        fail(f"{where}: task A labels must be relabelled 0..7 in class order "
             f"({', '.join(f'{old}→{new}' for old, new in new_label.items())}), so that a head "
             "with 8 outputs can learn them; some labels are not.")
    rows_b = _rows(X_b)
    from_a = [r for r in rows_b if int(y[r]) not in (positive, negative)]
    expect(not from_a, f"{where}: task B holds images of class {int(y[from_a[0]]) if from_a else ''}, "
                       f"a class of task A: task B must be drawn from {names} only.")
    expected_n = int((~in_a).sum()) if n_b_train is None else n_b_train
    expect(len(rows_b) == expected_n,
           f"{where}: task B must have {expected_n} images "
           f"({'every image of the pair' if n_b_train is None else 'n_b_train'}), got {len(rows_b)}.")
    expect(len(set(rows_b)) == len(rows_b), f"{where}: task B drew the same image twice: "
                                            "draw without replacement (torch.randperm).")
    expect(y_b.dtype == torch.float32,
           f"{where}: task B targets must be float32 (BCEWithLogitsLoss wants floats), got {y_b.dtype}.")
    expect(tuple(y_b.shape) == (len(rows_b), 1),
           f"{where}: task B targets must have shape (n, 1), like the logits of a head with one "
           f"output, got {tuple(y_b.shape)}.")
    expected_b = torch.tensor([[1.0 if int(y[r]) == positive else 0.0] for r in rows_b])
    expect(torch.equal(y_b.cpu(), expected_b),
           f"{where}: task B targets must be 1.0 for {FASHION_CLASSES[positive]} ({positive}) and "
           f"0.0 for {FASHION_CLASSES[negative]} ({negative}).")
    return rows_b


@hidden_test
def test_split_task_a_b(split_task_a_b):
    torch.manual_seed(0)
    n = 400
    y = torch.randint(0, 10, (n,))
    X = _numbered_images(n)
    _check_split(split_task_a_b, X, y, None, 0, None)
    draws = []
    for seed in range(5):
        torch.manual_seed(100 + seed)
        draws.append(_check_split(split_task_a_b, X, y, 20, seed, None))
    torch.manual_seed(999)
    again = _check_split(split_task_a_b, X, y, 20, 3, None)
    expect(sorted(again) == sorted(draws[3]),
           "split_task_a_b drew different B images for the same seed: draw them from a generator "
           "seeded with `seed` (torch.Generator().manual_seed(seed)), not from the global RNG.")
    expect(len({tuple(sorted(d)) for d in draws}) > 1,
           "split_task_a_b drew the same B images for seeds 0 to 4: draw them at random with `seed`.")
    b_rows = torch.nonzero((y == 0) | (y == 2)).flatten().tolist()
    expect(any(sorted(d) != sorted(b_rows[:20]) for d in draws),
           "split_task_a_b takes the first n_b_train B images: draw them at random with `seed`.")
    _check_split(split_task_a_b, X, y, 7, 1, (5, 7))
    _check_split(split_task_a_b, X, y, None, 0, (4, 6))


# --- Exercise 2: reuse_body ----------------------------------------------------------------

def _model_a(n_outputs: int = 5) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(),
                         nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, n_outputs))


def _tensors(module: nn.Module) -> list[torch.Tensor]:
    return list(module.parameters()) + list(module.buffers())


@hidden_test
def test_reuse_body(reuse_body):
    torch.manual_seed(1)
    model_a = _model_a()
    old_layers = list(model_a)
    saved = copy.deepcopy(model_a.state_dict())
    where = "reuse_body(model_a, 3)"
    model_b = call(reuse_body, model_a, 3, what=where)
    expect(isinstance(model_b, nn.Sequential), f"{where} must return an nn.Sequential.")
    expect(model_b is not model_a, f"{where} returned model A itself: build a new model.")
    expect(len(model_a) == len(old_layers) and all(a is b for a, b in zip(model_a, old_layers)),
           f"{where} changed model A's layers: model A must stay untouched.")
    expect(model_a[-1].out_features == 5, f"{where} replaced model A's head: leave model A untouched.")
    head = model_b[-1]
    expect(isinstance(head, nn.Linear), f"{where}: the last layer must be a new nn.Linear head.")
    expect(head is not model_a[-1], f"{where}: the head must be a new nn.Linear, not model A's.")
    expect(head.out_features == 3,
           f"{where}: the new head must have n_outputs = 3 outputs, got {head.out_features}.")
    expect(head.in_features == 16,
           f"{where}: the new head must take the {16} features of the last hidden layer, "
           f"got in_features={head.in_features}.")
    body_a, body_b = model_a[:-1], model_b[:-1]
    a_tensors, b_tensors = _tensors(body_a), _tensors(body_b)
    expect(len(a_tensors) == len(b_tensors),
           f"{where}: the body must copy every layer of model A but the last "
           f"({len(a_tensors)} parameter and buffer tensors), got {len(b_tensors)}.")
    a_storage = {t.data_ptr() for t in _tensors(model_a)}
    if any(t.data_ptr() in a_storage for t in _tensors(model_b)):
        fail(f"{where} shares layers with model A: training model B would change model A. "
             "Copy them with copy.deepcopy.")
    for mine, theirs in zip(b_tensors, a_tensors):
        expect(mine.shape == theirs.shape and torch.equal(mine, theirs),
               f"{where}: the copied layers must hold model A's trained values (a deep copy), "
               "not fresh ones.")
    x = torch.randn(32, 12)
    body_a.eval()
    body_b.eval()
    expect_close(body_b(x), body_a(x).detach(), what=f"{where}: output of the copied body",
                 rtol=1e-5, atol=1e-6, hint="The body must compute what model A's body computes.")
    model_b.train()
    optimizer = torch.optim.SGD(model_b.parameters(), lr=0.5)
    for _ in range(3):
        optimizer.zero_grad()
        model_b(x).pow(2).mean().backward()
        optimizer.step()
    for key, value in model_a.state_dict().items():
        expect(torch.equal(value, saved[key]),
               f"training the model from {where} changed model A's {key}: copy the layers "
               "with copy.deepcopy instead of sharing them.")
    one = call(reuse_body, _model_a(8), 1, what="reuse_body(model_a, 1)")
    expect(one[-1].out_features == 1 and one(x).shape == (32, 1),
           "reuse_body(model_a, 1) must end with a head of 1 output: logits of shape (N, 1).")


# --- Exercise 3: set_trainable -------------------------------------------------------------

class _Scaled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def _mixed_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
        nn.Sequential(nn.Linear(4 * 5 * 5, 4, bias=False), nn.LayerNorm(4),
                      nn.Sequential(_Scaled(), nn.BatchNorm1d(4))),
        nn.Linear(4, 2))


def _flags(module: nn.Module) -> dict[str, bool]:
    return {name: p.requires_grad for name, p in module.named_parameters()}


def _compare_flags(mine: nn.Module, pytorch: nn.Module, where: str) -> None:
    expected = _flags(pytorch)
    for name, flag in _flags(mine).items():
        if flag != expected[name]:
            owner = mine.get_submodule(name.rpartition(".")[0])
            kind = f"the {name.rpartition('.')[2]} of a {type(owner).__name__}"
            fail(f"{where}: {name} ({kind}) has requires_grad={flag}, expected {expected[name]}. "
                 "Every parameter counts: weights, biases, batch-norm scales and shifts, nested "
                 "layers (loop over module.parameters()).")


@hidden_test
def test_set_trainable(set_trainable):
    torch.manual_seed(2)
    mine = _mixed_model()
    pytorch = copy.deepcopy(mine)
    buffers = {name: b.clone() for name, b in mine.named_buffers()}
    for trainable in (False, True, False):
        where = f"set_trainable(model, {trainable})"
        returned = call(set_trainable, mine, trainable, what=where)
        expect(returned is mine, f"{where} must return the module it changed.")
        pytorch.requires_grad_(trainable)
        _compare_flags(mine, pytorch, where)
    where = "set_trainable(model[4], True) on a frozen model"
    call(set_trainable, mine[4], True, what=where)
    pytorch[4].requires_grad_(True)
    _compare_flags(mine, pytorch, where + " (only model[4] should change)")
    for name, b in mine.named_buffers():
        expect(torch.equal(b, buffers[name]), f"set_trainable changed the buffer {name}: "
                                              "only requires_grad should change.")


# --- Exercise 4: param_groups --------------------------------------------------------------

def _grouped_model() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(8, 6), nn.BatchNorm1d(6), nn.ReLU(),
                         nn.Sequential(nn.Linear(6, 6), nn.ReLU()), nn.Linear(6, 3))


@hidden_test
def test_param_groups(param_groups):
    torch.manual_seed(3)
    model = _grouped_model()
    body_lr, head_lr = 1e-3, 2e-2
    where = f"param_groups(model, body_lr={body_lr}, head_lr={head_lr})"
    groups = call(param_groups, model, body_lr, head_lr, what=where)
    expect(isinstance(groups, list) and groups and all(isinstance(g, dict) for g in groups),
           f"{where} must return a list of dicts, one per group.")
    for group in groups:
        expect("params" in group and "lr" in group,
               f"{where}: each group is a dict with the keys 'params' and 'lr', got {sorted(group)}.")
    try:
        optimizer = torch.optim.SGD(groups, lr=0.5, momentum=0.9)
    except ValueError as error:
        if "more than one" in str(error):
            fail(f"{where}: a parameter appears in more than one group (PyTorch refuses that). "
                 "The head's parameters belong to the head group only; the body group takes "
                 "every other parameter.")
        fail(f"{where}: torch.optim.SGD refused the groups: {error}")
    except (TypeError, RuntimeError) as error:
        fail(f"{where}: torch.optim.SGD refused the groups: {error}")
    lr_of = {}
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            lr_of[id(parameter)] = group["lr"]
    head_ids = {id(p) for p in model[-1].parameters()}
    for name, parameter in model.named_parameters():
        part, wanted = ("head", head_lr) if id(parameter) in head_ids else ("body", body_lr)
        expect(id(parameter) in lr_of,
               f"{where}: {name} (part of the {part}) is in no group: every parameter must be in "
               "exactly one group, or the optimizer never updates it.")
        expect(abs(lr_of[id(parameter)] - wanted) < 1e-12,
               f"{where}: {name} is part of the {part} and must get lr={wanted}, "
               f"got {lr_of[id(parameter)]}. The head is the last layer, model[-1].")
    model_ids = {id(p) for p in model.parameters()}
    expect(set(lr_of) <= model_ids, f"{where}: a group holds a tensor that is not a parameter of the model.")


# --- Exercise 5: fine_tune -----------------------------------------------------------------

def _fine_tune_data() -> dict:
    X = torch.randn(96, 6)
    y = (X[:, :2].sum(dim=1, keepdim=True) > 0).float()
    return {"train": (X[:64], y[:64]), "valid": (X[64:], y[64:])}


def _tune_model() -> nn.Sequential:
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(),
                         nn.Linear(8, 1))


def _run(fine_tune, model: nn.Module, data: dict, *args, seed: int, what: str):
    torch.manual_seed(seed)
    return call(fine_tune, model, data, *args, what=what)


@hidden_test
def test_fine_tune(fine_tune):
    fine_tune = with_globals(fine_tune, set_trainable=ref.set_trainable,
                             param_groups=ref.param_groups)
    torch.manual_seed(4)
    data = _fine_tune_data()
    start = _tune_model()
    lr, unfrozen_lr = 0.1, 0.01

    frozen_only = copy.deepcopy(start)
    where = f"fine_tune(model, data, frozen_epochs=3, unfrozen_epochs=0, lr={lr}, unfrozen_lr={unfrozen_lr})"
    _run(fine_tune, frozen_only, data, 3, 0, lr, unfrozen_lr, seed=5, what=where)
    for (name, after), before in zip(frozen_only.named_parameters(), start.parameters()):
        if name.startswith("5."):
            expect(not torch.equal(after, before), f"{where}: the head did not change: train it "
                                                   "during the frozen epochs.")
        else:
            expect(torch.equal(after, before),
                   f"{where}: the body parameter {name} changed while it should be frozen: "
                   "freeze every layer but the last (set_trainable) before the first phase.")

    ref_model = copy.deepcopy(start)
    history_ref = _run(ref.fine_tune, ref_model, data, 4, 6, lr, unfrozen_lr, seed=6,
                       what="the reference fine_tune")
    mine = copy.deepcopy(start)
    where = f"fine_tune(model, data, frozen_epochs=4, unfrozen_epochs=6, lr={lr}, unfrozen_lr={unfrozen_lr})"
    history = _run(fine_tune, mine, data, 4, 6, lr, unfrozen_lr, seed=6, what=where)
    expect(isinstance(history, labs.History),
           f"{where} must return a labs.History (what labs.fit returns), got {type(history).__name__}.")
    expect(len(history) == 10,
           f"{where} must return one History covering both phases: 10 epochs, got {len(history)}.")
    expect(history["epoch"] == list(range(1, 11)),
           f"{where}: number the epochs of the returned History 1 to 10 across both phases, "
           f"got {history['epoch']}.")
    expected_lrs = [lr] * 4 + [unfrozen_lr] * 6
    expect(all(abs(a - b) < 1e-12 for a, b in zip(history["lr"], expected_lrs)),
           f"{where}: the learning rates per epoch must be {expected_lrs}, got {history['lr']}: "
           "lr while the body is frozen, then the lower unfrozen_lr for everything.")
    frozen_flags = [name for name, p in mine.named_parameters() if not p.requires_grad]
    expect(not frozen_flags, f"{where}: {frozen_flags} are still frozen when fine_tune returns: "
                             "unfreeze the whole model (set_trainable(model, True)) for the second phase.")
    body_moved = any(not torch.equal(a, b) for (name, a), b in
                     zip(mine.named_parameters(), start.parameters()) if name.startswith("0."))
    expect(body_moved, f"{where}: the first layer never changed: after the frozen epochs, "
                       "unfreeze the body and train everything with a new optimizer.")
    for (name, got), expected in zip(mine.named_parameters(), ref_model.parameters()):
        expect_close(got, expected, what=f"{where}: parameter {name} after training", rtol=1e-4,
                     atol=1e-5, hint="Follow the recipe exactly: torch.optim.SGD(..., momentum=0.9), "
                                     "batch_size=32, loss_fn=nn.BCEWithLogitsLoss(), a fresh "
                                     "optimizer at unfrozen_lr for all parameters in phase 2.")
    expect_close(history["train_loss"][-1], history_ref["train_loss"][-1], rtol=1e-3, atol=1e-5,
                 what=f"{where}: training loss of the last epoch",
                 hint="Use nn.BCEWithLogitsLoss() for the binary head.")


# --- Concept questions ---------------------------------------------------------------------

@hidden_test
def test_q1_why_freeze(Q1):
    expect_choice(Q1, ref.Q1, question="Q1")


@hidden_test
def test_q2_trainable_count(Q2):
    expect_number(Q2, ref.Q2, question="Q2")


@hidden_test
def test_q3_lucky_seed(Q3):
    expect_choice(Q3, ref.Q3, question="Q3")


@hidden_test
def test_q4_dense_nets(Q4):
    expect_choice(Q4, ref.Q4, question="Q4")


@hidden_test
def test_q5_auxiliary_task(Q5):
    expect_choice(Q5, ref.Q5, question="Q5")
