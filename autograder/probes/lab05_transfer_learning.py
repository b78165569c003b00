"""Probes of lab 05, Transfer learning and pretraining: one per grade cell, named after it
(the judge's checks of the same names read what they record).

`fine_tune` runs with stand-ins for the exercises it builds on, made fresh for each run by
`stand_ins`: a `set_trainable` that is PyTorch's own `nn.Module.requires_grad_`, and a
`param_groups` that puts every parameter in a group of its own. Each notes its calls (which
of the model's parameters, which flag or rates) so the check can say what `fine_tune` asked
for; a mistake in `set_trainable` or `param_groups` then costs only its own exercise.

The contracts each exercise keeps beyond its visible tests: `reuse_body` leaves model A's
values, train/eval modes and requires_grad as the caller set them, and builds the new head with
model A's dtype and on its device (a float64 model A, a model A on the `meta` device, as
`REUSE_CONTRACTS` lists); `set_trainable` leaves each layer's mode and every .grad alone;
`param_groups` holds every parameter, frozen ones included, also for a nested body with a
custom parameter and a head without bias (`GROUP_MODELS`); `split_task_a_b` keeps its defaults
(`SPLIT_DEFAULTS`) and draws every image of the pair when `n_b_train` is their number;
`fine_tune` evaluates on data["valid"] in both phases and shows no progress bar (the probe
counts the bars labs.fit opens with progress on, and hides them). `paired_gain` runs on
accuracies the grader makes (`gain_cases`: 2 to 30 seeds, tuples, a loss, seeds sharing their
luck, no spread at all, confidence 0.9 and 0.99; `GAIN_ERRORS` for its ValueErrors) with scipy's
ready-made intervals refused (`GAIN_SHORTCUTS`).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

import labs
import labs.training
from autograder.probes.core import answer, forbidden, probe, with_globals

# --- Exercise 1: split_task_a_b ------------------------------------------------------------

N_SPLIT = 400
# How many of split_inputs()'s images are of class 0 or 2 (task B's default pair).
N_B_DEFAULT = 77
# (n_b_train, seed, pair, global seed set before the call): the draws for seeds 0 to 4, seed 3
# again under another global seed, then other pairs, then every B image drawn (n_b_train equal
# to their number).
SPLIT_CALLS: list[tuple[int | None, int, tuple[int, int] | None, int]] = [
    (None, 0, None, 0),
    *((20, seed, None, 100 + seed) for seed in range(5)),
    (20, 3, None, 999),
    (7, 1, (5, 7), 200),
    (None, 0, (4, 6), 201),
    (N_B_DEFAULT, 2, None, 202),
]
# split_task_a_b(X, y) with its defaults, under this global seed: the draw of call #1
# (n_b_train=20, seed=0, pair=(0, 2)).
SPLIT_DEFAULTS = "split_task_a_b(X, y)"
SPLIT_DEFAULTS_SEED = 203


def split_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """400 tiny images, image i filled with the number i (a returned image names its row), and
    random labels 0..9."""
    X = torch.arange(N_SPLIT, dtype=torch.float32).reshape(N_SPLIT, 1, 1, 1).expand(N_SPLIT, 1, 2, 2)
    y = torch.randint(0, 10, (N_SPLIT,), generator=torch.Generator().manual_seed(0))
    return X.clone(), y


def split_where(n_b_train: int | None, seed: int, pair: tuple[int, int] | None) -> str:
    return (f"split_task_a_b(X, y, n_b_train={n_b_train}, seed={seed}"
            f"{', pair=' + str(pair) if pair else ''})")


def split_key(index: int) -> str:
    n_b_train, seed, pair, _ = SPLIT_CALLS[index]
    return f"#{index} {split_where(n_b_train, seed, pair)}"


@probe
def test_split_task_a_b(see, split_task_a_b):
    X, y = split_inputs()
    for index, (n_b_train, seed, pair, global_seed) in enumerate(SPLIT_CALLS):
        key, where = split_key(index), split_where(n_b_train, seed, pair)
        kwargs = {} if pair is None else {"pair": pair}
        labels = y.clone()
        torch.manual_seed(global_seed)
        task = see.call(key, split_task_a_b, X.clone(), labels, n_b_train, seed, what=where, **kwargs)
        see(f"{key} returns a dict", isinstance(task, dict))
        see(f"{key} type", type(task).__name__)
        see(f"{key} y unchanged", torch.equal(labels, y))
    labels = y.clone()
    torch.manual_seed(SPLIT_DEFAULTS_SEED)
    task = see.call(SPLIT_DEFAULTS, split_task_a_b, X.clone(), labels, what=SPLIT_DEFAULTS)
    see(f"{SPLIT_DEFAULTS} returns a dict", isinstance(task, dict))
    see(f"{SPLIT_DEFAULTS} type", type(task).__name__)
    see(f"{SPLIT_DEFAULTS} y unchanged", torch.equal(labels, y))


# --- Exercise 2: reuse_body ----------------------------------------------------------------

def make_model_a(n_outputs: int = 5) -> nn.Sequential:
    """A small 'trained' model A (batch-norm statistics and scales not at their defaults)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(),
                          nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, n_outputs))
    with torch.no_grad():
        model[2].weight.uniform_(0.5, 1.5)
        model[2].bias.uniform_(-0.5, 0.5)
        model[2].running_mean.uniform_(-0.5, 0.5)
        model[2].running_var.uniform_(0.5, 2.0)
    return model


def modes(module: nn.Module) -> dict[str, bool]:
    """Whether each submodule (by name, "." for the module itself) is in training mode."""
    return {name or ".": bool(child.training) for name, child in module.named_modules()}


def flags(module: nn.Module) -> dict[str, bool]:
    return {name: bool(p.requires_grad) for name, p in module.named_parameters()}


def tensors(module: nn.Module) -> list[torch.Tensor]:
    """A module's parameters, then its buffers."""
    return list(module.parameters()) + list(module.buffers())


def _head(model_b: Any, model_a: nn.Sequential) -> dict[str, Any]:
    head = model_b[-1]
    return {"type": type(head).__name__, "is Linear": isinstance(head, nn.Linear),
            "is model A's head": head is model_a[-1],
            "in_features": getattr(head, "in_features", None),
            "out_features": getattr(head, "out_features", None)}


def _body_output(body_a: nn.Module, body_b: Any, x: torch.Tensor) -> torch.Tensor:
    body_a.eval()
    body_b.eval()
    return body_b(x)


def _train_a_little(model_b: Any, x: torch.Tensor) -> None:
    model_b.train()
    optimizer = torch.optim.SGD(model_b.parameters(), lr=0.5)
    for _ in range(3):
        optimizer.zero_grad()
        model_b(x).pow(2).mean().backward()
        optimizer.step()


@probe
def test_reuse_body(see, reuse_body):
    torch.manual_seed(1)
    model_a = make_model_a()
    old_layers = list(model_a)
    x = torch.randn(32, 12, generator=torch.Generator().manual_seed(11))
    where = "reuse_body(model_a, 3)"
    model_b = see.call(where, reuse_body, model_a, 3, what=where, record=False)
    see("is Sequential", isinstance(model_b, nn.Sequential))
    see("type", type(model_b).__name__)
    see("is model A", model_b is model_a)
    see("model A layers kept",
        len(model_a) == len(old_layers) and all(a is b for a, b in zip(model_a, old_layers)))
    see("model A head out_features", getattr(model_a[-1], "out_features", None))
    see.call("head", _head, model_b, model_a, what=f"{where}[-1]")
    body_a = model_a[:-1]
    body_b = see.call("body B", lambda: model_b[:-1], what=f"{where}[:-1]", record=False)
    see.call("body B tensors", tensors, body_b, what=f"the parameters and buffers of {where}[:-1]")
    a_storage = {t.data_ptr() for t in tensors(model_a)}
    see.call("shares storage with model A",
             lambda: any(t.data_ptr() in a_storage for t in tensors(model_b)),
             what=f"the parameters and buffers of {where}")
    see.call("body B output", _body_output, body_a, body_b, x, what=f"{where}[:-1](x)")
    see.call("trained B", _train_a_little, model_b, x, what=f"three SGD steps on {where}",
             record=False)
    see("model A state after training B", model_a.state_dict())
    torch.manual_seed(12)
    one = see.call("reuse_body(model_a, 1)", reuse_body, make_model_a(8), 1,
                   what="reuse_body(model_a, 1)", record=False)
    see.call("one head out_features", lambda: getattr(one[-1], "out_features", None),
             what="reuse_body(model_a, 1)[-1]")
    see.call("one output", lambda: one(x), what="reuse_body(model_a, 1)(x)")
    _reuse_body_contracts(see, reuse_body)


# The contracts of reuse_body, each on a model A of its own: (key, how model A differs, builder).
# In float64, in training mode but with its batch norm kept in eval mode and its first layer
# frozen (a caller's choices reuse_body must leave alone); on the meta device.
REUSE_CONTRACTS: list[tuple[str, str, Any]] = [
    ("float64", "a float64 model A (first layer frozen, batch norm in eval mode)",
     lambda: _contract_model_a()),
    ("meta", "a model A on the meta device", lambda: make_model_a().to("meta")),
]


def _contract_model_a() -> nn.Sequential:
    model = make_model_a().double()
    model[1].requires_grad_(False)
    model[2].eval()
    return model


def reuse_where(key: str) -> str:
    return f"reuse_body(model_a, 3) on {next(what for k, what, _ in REUSE_CONTRACTS if k == key)}"


def _placement(model_b: Any) -> dict[str, list[str]]:
    """The dtype and device of each parameter of model B's head."""
    return {name: [str(p.dtype), str(p.device)] for name, p in model_b[-1].named_parameters()}


def _reuse_body_contracts(see, reuse_body) -> None:
    for key, _, build in REUSE_CONTRACTS:
        torch.manual_seed(13)
        model_a = build()
        before = {name: t.clone() for name, t in model_a.state_dict().items()}
        where = reuse_where(key)
        model_b = see.call(key, reuse_body, model_a, 3, what=where, record=False)
        if key != "meta":  # meta tensors hold no values to compare
            see(f"{key}: model A unchanged", all(torch.equal(t, before[name])
                                                  for name, t in model_a.state_dict().items()))
        see(f"{key}: model A modes", modes(model_a))
        see(f"{key}: model A flags", flags(model_a))
        see.call(f"{key}: head", _placement, model_b, what=f"the parameters of {where}[-1]")


# --- Exercise 3: set_trainable -------------------------------------------------------------

class Scaled(nn.Module):
    """A custom layer whose only parameter is not called weight or bias."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def mixed_model() -> nn.Sequential:
    """Convolution, batch norms, layer norm, nested Sequentials and a custom parameter."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
        nn.Sequential(nn.Linear(4 * 5 * 5, 4, bias=False), nn.LayerNorm(4),
                      nn.Sequential(Scaled(), nn.BatchNorm1d(4))),
        nn.Linear(4, 2))


# (the part of the model passed, trainable): the whole model three times, then model[4].
SET_TRAINABLE_STEPS: list[tuple[str, bool]] = [("model", False), ("model", True), ("model", False),
                                               ("model[4]", True)]


def set_trainable_call(index: int) -> str:
    part, trainable = SET_TRAINABLE_STEPS[index]
    return f"set_trainable({part}, {trainable})"


def set_trainable_key(index: int) -> str:
    return f"step {index + 1}: {set_trainable_call(index)}"


def _grads_changed(model: nn.Module, grads: dict[str, torch.Tensor]) -> list[str]:
    """The parameters whose .grad is no longer the one they had before set_trainable."""
    return [name for name, p in model.named_parameters()
            if p.grad is None or not torch.equal(p.grad, grads[name])]


@probe
def test_set_trainable(see, set_trainable):
    torch.manual_seed(2)
    model = mixed_model()
    with torch.no_grad():
        for buffer in model.buffers():
            if buffer.is_floating_point():
                buffer.uniform_(0.5, 1.5)
    # The caller's choices set_trainable must leave alone: batch norms kept in eval mode in a
    # model in training mode, and the gradients of a backward pass already taken.
    model[1].eval()
    model[4][2][1].eval()
    grads = {name: torch.randn_like(p) for name, p in model.named_parameters()}
    for name, p in model.named_parameters():
        p.grad = grads[name].clone()
    for index, (part, trainable) in enumerate(SET_TRAINABLE_STEPS):
        key = set_trainable_key(index)
        module = model if part == "model" else model[4]
        returned = see.call(key, set_trainable, module, trainable, what=set_trainable_call(index),
                             record=False)
        see(f"{key} returns its module", returned is module)
        see(f"{key} flags", flags(model))
        see(f"{key} modes", modes(model))
        see(f"{key} grads changed", _grads_changed(model, grads))
    see("buffers", dict(model.named_buffers()))


# --- Exercise 4: param_groups --------------------------------------------------------------

BODY_LR, HEAD_LR = 1e-3, 2e-2


def grouped_model() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(8, 6), nn.BatchNorm1d(6), nn.ReLU(),
                         nn.Sequential(nn.Linear(6, 6), nn.ReLU()), nn.Linear(6, 3))


def bare_head_model() -> nn.Sequential:
    """A nested body with a custom parameter and a frozen first layer; a head without bias."""
    model = nn.Sequential(nn.Sequential(nn.Linear(8, 4), nn.LayerNorm(4), nn.ReLU()), Scaled(),
                          nn.Linear(4, 3, bias=False))
    model[0][0].requires_grad_(False)
    return model


# (key, the model as the check's messages name it, builder): each probed the same way.
GROUP_MODELS: list[tuple[str, str, Any]] = [
    ("model", "model", grouped_model),
    ("bare head", "a model whose first layer is frozen and whose head has no bias", bare_head_model),
]


def groups_where(key: str) -> str:
    described = next(what for k, what, _ in GROUP_MODELS if k == key)
    call = f"param_groups(model, body_lr={BODY_LR}, head_lr={HEAD_LR})"
    return call if described == "model" else f"{call} on {described}"


def _describe_groups(groups: Any) -> list[dict[str, Any]] | None:
    """Each group's type and keys (as returned, before an optimizer fills in its defaults)."""
    if not isinstance(groups, list):
        return None
    return [{"type": type(group).__name__, "is dict": isinstance(group, dict),
             "keys": sorted(str(key) for key in group) if isinstance(group, dict) else []}
            for group in groups]


def _optimizer_view(groups: Any, model: nn.Module) -> dict[str, Any]:
    """What torch.optim.SGD makes of the groups: its error, or the lr each parameter gets."""
    try:
        optimizer = torch.optim.SGD(groups, lr=0.5, momentum=0.9)
    except Exception as error:  # what PyTorch says about the groups is the observation
        return {"error": f"{type(error).__name__}: {error}", "lr of": {}, "foreign tensors": 0}
    names = {id(p): name for name, p in model.named_parameters()}
    lr_of, foreign = {}, 0
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            if id(parameter) in names:
                lr_of[names[id(parameter)]] = group["lr"]
            else:
                foreign += 1
    return {"error": None, "lr of": lr_of, "foreign tensors": foreign}


@probe
def test_param_groups(see, param_groups):
    for key, _, build in GROUP_MODELS:
        torch.manual_seed(3)
        model = build()
        where = groups_where(key)
        groups = see.call(key, param_groups, model, BODY_LR, HEAD_LR, what=where, record=False)
        see(f"{key}: type", type(groups).__name__)
        see(f"{key}: groups", _describe_groups(groups))
        see(f"{key}: optimizer", _optimizer_view(groups, model))


# --- Exercise 5: fine_tune -----------------------------------------------------------------

LR, UNFROZEN_LR = 0.1, 0.01
FROZEN_ONLY = (3, 0)
BOTH_PHASES = (4, 6)


def fine_tune_where(frozen_epochs: int, unfrozen_epochs: int) -> str:
    return (f"fine_tune(model, data, frozen_epochs={frozen_epochs}, unfrozen_epochs={unfrozen_epochs}, "
            f"lr={LR}, unfrozen_lr={UNFROZEN_LR})")


def fine_tune_data() -> dict:
    X = torch.randn(96, 6)
    y = (X[:, :2].sum(dim=1, keepdim=True) > 0).float()
    return {"train": (X[:64], y[:64]), "valid": (X[64:], y[64:])}


def tune_model() -> nn.Sequential:
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(),
                         nn.Linear(8, 1))


def stand_ins(model: nn.Module, log: list[dict[str, Any]]) -> dict[str, Any]:
    """`set_trainable` and `param_groups` for `fine_tune`, noting each call in `log`."""
    names = {id(p): name for name, p in model.named_parameters()}

    def set_trainable(module: nn.Module, trainable: bool) -> nn.Module:
        log.append({"function": "set_trainable", "trainable": trainable,
                    "parameters": [names.get(id(p), "?") for p in module.parameters()]})
        return module.requires_grad_(trainable)

    def param_groups(model: nn.Sequential, body_lr: float, head_lr: float) -> list[dict]:
        log.append({"function": "param_groups", "body_lr": body_lr, "head_lr": head_lr})
        head = {id(p) for p in model[-1].parameters()}
        return [{"params": [p], "lr": head_lr if id(p) in head else body_lr}
                for p in model.parameters()]

    return {"set_trainable": set_trainable, "param_groups": param_groups}


def _records(history: Any) -> list:
    return list(history.records)


@contextlib.contextmanager
def _progress_bars(shown: list[bool]) -> Iterator[None]:
    """Note, for each progress bar labs.fit opens in the block, whether it would be shown
    (progress=True), and keep every bar hidden."""
    real = labs.training.tqdm

    def noted(*args: Any, **kwargs: Any) -> Any:
        shown.append(not kwargs.get("disable", False))
        return real(*args, **{**kwargs, "disable": True})

    labs.training.tqdm = noted
    try:
        yield
    finally:
        labs.training.tqdm = real


@probe
def test_fine_tune(see, fine_tune):
    torch.manual_seed(4)
    data = fine_tune_data()
    start = tune_model()
    see("start", dict(start.named_parameters()))

    frozen_only, log = copy.deepcopy(start), []
    tune = with_globals(fine_tune, **stand_ins(frozen_only, log))
    torch.manual_seed(5)
    where = fine_tune_where(*FROZEN_ONLY)
    with _progress_bars([]):
        see.call("frozen only", tune, frozen_only, data, *FROZEN_ONLY, LR, UNFROZEN_LR, what=where,
                 record=False)
    see("frozen only: parameters", dict(frozen_only.named_parameters()))
    see("frozen only: calls", log)

    model, log = copy.deepcopy(start), []
    tune = with_globals(fine_tune, **stand_ins(model, log))
    torch.manual_seed(6)
    where = fine_tune_where(*BOTH_PHASES)
    shown: list[bool] = []
    with _progress_bars(shown):
        history = see.call("both phases", tune, model, data, *BOTH_PHASES, LR, UNFROZEN_LR,
                           what=where, record=False)
    see("progress bars shown", sum(shown))
    see("model", model)
    see("calls", log)
    see("is History", isinstance(history, labs.History))
    see("history type", type(history).__name__)
    see.call("history", _records, history, what=f"the History {where} returned")


# --- Exercise 6: paired_gain ---------------------------------------------------------------

# What paired_gain may not call: scipy's functions that compute the interval, or the standard
# error, for it.
GAIN_SHORTCUTS = {"scipy.stats": ("ttest_rel", "ttest_1samp", "sem", "bayes_mvs", "mvsdist"),
                  "scipy.stats.mstats": ("ttest_rel", "ttest_1samp", "ttest_onesamp", "sem")}
GAIN_REFUSED = ("paired_gain must compute the mean, the standard error and the interval itself: "
                "scipy.stats.ttest_rel, ttest_1samp, sem, bayes_mvs and mvsdist are not allowed "
                "here (stats.t.ppf, or stats.t.interval, is).")


def accuracies(n: int, seed: int, gain: float, luck: float, noise: float) -> tuple[list, list]:
    """Test accuracies of `n` seeds, from scratch and with transfer, in steps of 1/2000 (a pair's
    2,000 test images): `luck` is the spread both runs of a seed share, `noise` each run's own."""
    generator = torch.Generator().manual_seed(seed)
    shared = luck * torch.randn(n, generator=generator, dtype=torch.float64)
    own = noise * torch.randn(2, n, generator=generator, dtype=torch.float64)
    runs = (0.85 + shared + own + torch.tensor([[0.0], [gain]], dtype=torch.float64)).clamp(0.5, 1.0)
    scratch, transfer = ([round(2000 * float(a)) / 2000 for a in row] for row in runs)
    return scratch, transfer


def gain_cases() -> list[tuple[str, Any, Any, float | None]]:
    """(key, scratch, transfer, confidence; None: the default), as the probe passes them."""
    ten = accuracies(10, 2, 0.01, 0.08, 0.02)
    three = accuracies(3, 1, 0.03, 0.05, 0.02)
    steady = [0.75, 0.8125, 0.6875, 0.9375, 0.875]
    same = accuracies(6, 7, 0.0, 0.05, 0.02)[0]
    return [
        ("2 seeds", *accuracies(2, 0, 0.02, 0.05, 0.02), None),
        ("3 seeds, as tuples", tuple(three[0]), tuple(three[1]), None),
        ("10 seeds", *ten, None),
        ("10 seeds, confidence=0.9", *ten, 0.9),
        ("10 seeds, confidence=0.99", *ten, 0.99),
        ("30 seeds", *accuracies(30, 3, 0.015, 0.06, 0.02), None),
        ("12 seeds, transfer worse", *accuracies(12, 4, -0.05, 0.04, 0.02), None),
        ("10 seeds sharing their luck", *accuracies(10, 5, 0.02, 0.1, 0.004), None),
        ("5 seeds, each gaining 0.0625", steady, [a + 0.0625 for a in steady], None),
        ("6 identical pairs of runs", same, list(same), None),
    ]


# (key, scratch, transfer): each must raise ValueError.
GAIN_ERRORS: list[tuple[str, list[float], list[float]]] = [
    ("3 and 4 accuracies", [0.8, 0.85, 0.9], [0.82, 0.86, 0.93, 0.88]),
    ("1 seed", [0.8], [0.85]),
    ("no seed", [], []),
]


def gain_where(key: str, confidence: float | None) -> str:
    """The call as a check's message names it: the key's confidence moves into the call."""
    argument = "" if confidence is None else f", confidence={confidence}"
    return f"paired_gain(scratch, transfer{argument}) on {key.partition(', confidence')[0]}"


@contextlib.contextmanager
def _gain_shortcuts_refused() -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for name, functions in GAIN_SHORTCUTS.items():
            stack.enter_context(forbidden(importlib.import_module(name), functions, GAIN_REFUSED))
        yield


@probe
def test_paired_gain(see, paired_gain):
    with _gain_shortcuts_refused():
        for key, scratch, transfer, confidence in gain_cases():
            kwargs = {} if confidence is None else {"confidence": confidence}
            see.call(key, paired_gain, scratch, transfer, what=gain_where(key, confidence), **kwargs)
        for key, scratch, transfer in GAIN_ERRORS:
            see.raises(key, paired_gain, scratch, transfer)
            see(f"{key}: message", _error_message(paired_gain, scratch, transfer))


def _error_message(function: Any, *args: Any) -> str | None:
    """What the error `function(*args)` raises says (None if it returns)."""
    try:
        function(*args)
    except Exception as error:  # the message is the observation
        return str(error)
    return None


# --- Concept questions ---------------------------------------------------------------------

test_q1_why_freeze = answer("test_q1_why_freeze")
test_q2_trainable_count = answer("test_q2_trainable_count")
test_q3_lucky_seed = answer("test_q3_lucky_seed")
test_q4_dense_nets = answer("test_q4_dense_nets")
test_q5_auxiliary_task = answer("test_q5_auxiliary_task")
