"""Checks of lab 05, Transfer learning and pretraining: one per grade cell, named after it,
reading the records of the probes in autograder/probes/lab05_transfer_learning.py (the
student's as `got`, the reference's as `want`).

The task split is checked against the probe's own inputs (image i is filled with i, so each
returned image names its row of X). Freezing is checked against PyTorch's
`nn.Module.requires_grad_` on a model built here, parameter groups against what
`torch.optim.SGD` made of them, and the rest (model A's copied body, the fine-tuned model,
its History) against the reference's record. `paired_gain` is checked against the interval
computed here in float64 from the probe's own accuracies (and the reference's record); a wrong
interval is compared with what each known mistake gives, so the message can name it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from scipy import stats
from torch import nn

from autograder.checks.core import choice_question, expect, expect_close, fail, number_question
from autograder.probes.lab05_transfer_learning import (
    BODY_LR,
    BOTH_PHASES,
    FROZEN_ONLY,
    GAIN_ERRORS,
    GAIN_REFUSED,
    GROUP_MODELS,
    HEAD_LR,
    LR,
    REUSE_CONTRACTS,
    SET_TRAINABLE_STEPS,
    SPLIT_CALLS,
    SPLIT_DEFAULTS,
    UNFROZEN_LR,
    fine_tune_where,
    gain_cases,
    gain_where,
    groups_where,
    mixed_model,
    reuse_where,
    set_trainable_call,
    set_trainable_key,
    split_inputs,
    split_key,
    split_where,
)

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def _kind(value: object) -> str:
    if isinstance(value, dict) and set(value) == {"type"}:
        return str(value["type"])
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return type(value).__name__


# --- Exercise 1: split_task_a_b ------------------------------------------------------------

def _rows(images: torch.Tensor) -> list[int]:
    return images[:, 0, 0, 0].round().long().tolist()


def _unpack(task: dict, key: str, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    pair = task[key]
    expect(type(pair) is list and len(pair) == 2 and all(type(t) is torch.Tensor for t in pair),
           f"{where}: task[{key!r}] must be a pair (X, y) of tensors, got {_kind(pair)}.")
    images = pair[0]
    expect(images.dim() == 4 and tuple(images.shape[1:]) == (1, 2, 2),
           f"{where}: task {key.upper()}'s images must be images of X as they are (here of shape "
           f"(n, 1, 2, 2)), got shape {tuple(images.shape)}.")
    return pair[0], pair[1]


def _check_split(got, key: str, where: str, n_b_train: int | None, pair: tuple[int, int] | None,
                 X: torch.Tensor, y: torch.Tensor) -> list[int]:
    positive, negative = pair or (0, 2)
    names = f"{FASHION_CLASSES[positive]} ({positive}) and {FASHION_CLASSES[negative]} ({negative})"
    task = got[key]
    expect(got[f"{key} y unchanged"] is True, f"{where} changed the labels y it was given: relabel a copy.")
    is_dict = got[f"{key} returns a dict"] is True and type(task) is dict
    expect(is_dict and set(task) == {"a", "b"},
           f"{where} must return a dict with exactly the keys 'a' and 'b', got "
           f"{sorted(task) if is_dict else got[f'{key} type']}.")
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
    if y_a.numel() != len(rows_a) or not torch.equal(y_a.reshape(-1), expected_a):
        fail(f"{where}: task A labels must be relabelled 0..7 in class order "
             f"({', '.join(f'{old}→{new}' for old, new in new_label.items())}), so that a head "
             "with 8 outputs can learn them; some labels are not.")
    rows_b = _rows(X_b)
    expect(all(0 <= r < len(X) for r in rows_b) and torch.equal(X_b, X[rows_b]),
           f"{where}: task B's images must be images of X, unchanged.")
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
    expect(torch.equal(y_b, expected_b.reshape(y_b.shape)),
           f"{where}: task B targets must be 1.0 for {FASHION_CLASSES[positive]} ({positive}) and "
           f"0.0 for {FASHION_CLASSES[negative]} ({negative}).")
    return rows_b


def test_split_task_a_b(got, want):
    X, y = split_inputs()
    rows = [_check_split(got, split_key(index), split_where(*call[:3]), call[0], call[2], X, y)
            for index, call in enumerate(SPLIT_CALLS)]
    defaults = _check_split(got, SPLIT_DEFAULTS, SPLIT_DEFAULTS, 20, None, X, y)
    expect(sorted(defaults) == sorted(rows[1]),
           f"{SPLIT_DEFAULTS} drew other B images than {split_where(20, 0, None)}: the defaults "
           "must be n_b_train=20, seed=0, pair=(0, 2).")
    draws = {SPLIT_CALLS[index][1]: rows[index] for index in range(1, 6)}  # seeds 0 to 4
    expect(sorted(rows[6]) == sorted(draws[3]),
           "split_task_a_b drew different B images for the same seed: draw them from a generator "
           "seeded with `seed` (torch.Generator().manual_seed(seed)), not from the global RNG.")
    expect(len({tuple(sorted(d)) for d in draws.values()}) > 1,
           "split_task_a_b drew the same B images for seeds 0 to 4: draw them at random with `seed`.")
    b_rows = torch.nonzero((y == 0) | (y == 2)).flatten().tolist()
    expect(any(sorted(d) != sorted(b_rows[:20]) for d in draws.values()),
           "split_task_a_b takes the first n_b_train B images: draw them at random with `seed`.")


# --- Exercise 2: reuse_body ----------------------------------------------------------------

def test_reuse_body(got, want):
    where = "reuse_body(model_a, 3)"
    expect(got["is Sequential"] is True, f"{where} must return an nn.Sequential, got {got['type']}.")
    expect(got["is model A"] is False, f"{where} returned model A itself: build a new model.")
    expect(got["model A layers kept"] is True,
           f"{where} changed model A's layers: model A must stay untouched.")
    expect(got["model A head out_features"] == 5,
           f"{where} replaced model A's head: leave model A untouched.")
    head = got["head"]
    expect(type(head) is dict and head.get("is Linear") is True,
           f"{where}: the last layer must be a new nn.Linear head, got "
           f"{head.get('type') if type(head) is dict else '?'}.")
    expect(head["is model A's head"] is False, f"{where}: the head must be a new nn.Linear, not model A's.")
    expect(head["out_features"] == 3,
           f"{where}: the new head must have n_outputs = 3 outputs, got {head['out_features']}.")
    expect(head["in_features"] == 16,
           f"{where}: the new head must take the 16 features of the last hidden layer, "
           f"got in_features={head['in_features']}.")
    mine, theirs = got["body B tensors"], want["body B tensors"]
    expect(type(mine) is list and len(mine) == len(theirs),
           f"{where}: the body must copy every layer of model A but the last "
           f"({len(theirs)} parameter and buffer tensors), got "
           f"{len(mine) if type(mine) is list else '?'}.")
    if got["shares storage with model A"] is not False:
        fail(f"{where} shares layers with model A: training model B would change model A. "
             "Copy them with copy.deepcopy.")
    for copied, original in zip(mine, theirs):
        expect(type(copied) is torch.Tensor and copied.shape == original.shape
               and torch.equal(copied, original),
               f"{where}: the copied layers must hold model A's trained values (a deep copy), "
               "not fresh ones.")
    expect_close(got["body B output"], want["body B output"], what=f"{where}: output of the copied body",
                 rtol=1e-5, atol=1e-6, hint="The body must compute what model A's body computes.")
    got["trained B"]
    state, original = got["model A state after training B"], want["model A state after training B"]
    for key, value in original.items():
        after = state.get(key) if type(state) is dict else None
        expect(type(after) is torch.Tensor and after.shape == value.shape and torch.equal(after, value),
               f"training the model from {where} changed model A's {key}: copy the layers "
               "with copy.deepcopy instead of sharing them.")
    output = got["one output"] if got["one head out_features"] == 1 else None
    expect(type(output) is torch.Tensor and tuple(output.shape) == (32, 1),
           "reuse_body(model_a, 1) must end with a head of 1 output: logits of shape (N, 1).")
    for key, _, _ in REUSE_CONTRACTS:
        _check_model_a_left_alone(got, want, key)
        _check_head_placement(got, want, key)


def _first_difference(mine: object, theirs: dict) -> str | None:
    """The first name whose value differs between two recorded {name: flag} dicts (or "?")."""
    if type(mine) is not dict or set(mine) != set(theirs):
        return "?"
    return next((name for name, value in theirs.items() if mine[name] is not value), None)


def _mode(training: object) -> str:
    return "training" if training is True else "eval"


def _check_model_a_left_alone(got, want, key: str) -> None:
    """reuse_body leaves model A's values, modes and requires_grad as the caller set them."""
    where = reuse_where(key)
    if f"{key}: model A unchanged" in want:
        expect(got[f"{key}: model A unchanged"] is True,
               f"{where} changed model A's weights or statistics: copy model A's layers, never edit them.")
    modes, wanted = got[f"{key}: model A modes"], want[f"{key}: model A modes"]
    name = _first_difference(modes, wanted)
    if name is not None:
        part = "model A" if name in (".", "?") else f"model A's layer {name}"
        fail(f"{where} switched {part} to {_mode(not wanted.get(name, True))} mode: leave model A's "
             "train/eval modes as the caller set them (the deep copy keeps them for model B).")
    flags, wanted = got[f"{key}: model A flags"], want[f"{key}: model A flags"]
    name = _first_difference(flags, wanted)
    if name is not None:
        now = flags.get(name) if type(flags) is dict else "?"
        fail(f"{where} set requires_grad={now} on model A's {name}: leave model A's parameters "
             "as they are (freeze model B's copy afterwards, with set_trainable).")


def _check_head_placement(got, want, key: str) -> None:
    """The new head is built with model A's dtype and on its device."""
    where = reuse_where(key)
    head, wanted = got[f"{key}: head"], want[f"{key}: head"]
    expect(type(head) is dict and set(head) == set(wanted),
           f"{where}: the new head must be an nn.Linear with a weight and a bias, got parameters "
           f"{sorted(head) if type(head) is dict else '?'}.")
    for name, (dtype, device) in wanted.items():
        mine = head[name]
        mine_dtype, mine_device = (str(v) for v in [*mine, "?", "?"][:2]) if type(mine) is list \
            else ("?", "?")
        expect(mine_dtype == dtype,
               f"{where} built the new head's {name} as {mine_dtype.removeprefix('torch.')} in a "
               f"{dtype.removeprefix('torch.')} model: build the head like the old one, with "
               "nn.Linear(..., device=model_a[-1].weight.device, dtype=model_a[-1].weight.dtype).")
        expect(mine_device == device,
               f"{where} built the new head's {name} on the {mine_device} device, away from model A's "
               f"{device} device: build it where the old head is, with nn.Linear(..., "
               "device=model_a[-1].weight.device, dtype=model_a[-1].weight.dtype).")


# --- Exercise 3: set_trainable -------------------------------------------------------------

def _compare_flags(mine: object, twin: nn.Module, where: str) -> None:
    expected = {name: p.requires_grad for name, p in twin.named_parameters()}
    expect(type(mine) is dict and set(mine) == set(expected),
           f"{where}: the model's parameters changed (names or number): set_trainable only "
           "changes requires_grad.")
    for name, flag in mine.items():
        if flag != expected[name]:
            owner = twin.get_submodule(name.rpartition(".")[0])
            kind = f"the {name.rpartition('.')[2]} of a {type(owner).__name__}"
            fail(f"{where}: {name} ({kind}) has requires_grad={flag}, expected {expected[name]}. "
                 "Every parameter counts: weights, biases, batch-norm scales and shifts, nested "
                 "layers (loop over module.parameters()).")


def test_set_trainable(got, want):
    with torch.random.fork_rng(devices=[]):
        twin = mixed_model()
    for index, (part, trainable) in enumerate(SET_TRAINABLE_STEPS):
        key, where = set_trainable_key(index), set_trainable_call(index)
        expect(got[f"{key} returns its module"] is True, f"{where} must return the module it changed.")
        (twin if part == "model" else twin[4]).requires_grad_(trainable)
        if part != "model":
            where += f" on a frozen model (only {part} should change)"
        _compare_flags(got[f"{key} flags"], twin, where)
        name = _first_difference(got[f"{key} modes"], want[f"{key} modes"])
        if name is not None:
            part = "the model" if name in (".", "?") else f"layer {name}"
            fail(f"{where} switched {part} to {_mode(not want[f'{key} modes'].get(name, True))} mode: "
                 "set_trainable changes requires_grad only and leaves each layer's train/eval mode "
                 "as the caller set it (a frozen batch norm still updates its statistics in training "
                 "mode; that is the caller's choice).")
        changed = got[f"{key} grads changed"]
        expect(changed == want[f"{key} grads changed"],
               f"{where} cleared or changed the .grad of "
               f"{', '.join(map(str, changed)) if type(changed) is list else '?'}: set_trainable "
               "changes requires_grad only and leaves .grad as it is, as requires_grad_ does.")
    buffers = got["buffers"]
    for name, value in want["buffers"].items():
        mine = buffers.get(name) if type(buffers) is dict else None
        expect(type(mine) is torch.Tensor and mine.shape == value.shape and torch.equal(mine, value),
               f"set_trainable changed the buffer {name}: only requires_grad should change.")


# --- Exercise 4: param_groups --------------------------------------------------------------

def test_param_groups(got, want):
    for key, _, build in GROUP_MODELS:
        with torch.random.fork_rng(devices=[]):
            twin = build()
        _check_groups(got, key, twin)


def _check_groups(got, key: str, twin: nn.Sequential) -> None:
    where = groups_where(key)
    groups = got[f"{key}: groups"]
    items = [str(g.get("type")) for g in groups] if type(groups) is list else []
    expect(type(groups) is list and groups and all(type(g) is dict and g.get("is dict") is True
                                                   for g in groups),
           f"{where} must return a list of dicts, one per group, got "
           f"{got[f'{key}: type']}{' of ' + ', '.join(items) if items else ''}.")
    for group in groups:
        expect("params" in group["keys"] and "lr" in group["keys"],
               f"{where}: each group is a dict with the keys 'params' and 'lr', got {group['keys']}.")
    view = got[f"{key}: optimizer"]
    error = view["error"]
    if error is not None:
        if "more than one" in str(error):
            fail(f"{where}: a parameter appears in more than one group (PyTorch refuses that). "
                 "The head's parameters belong to the head group only; the body group takes "
                 "every other parameter.")
        if "NoneType" in str(error):
            fail(f"{where}: a group holds None instead of a parameter (this head has no bias): "
                 "take the head's parameters with model[-1].parameters(), not by name.")
        fail(f"{where}: torch.optim.SGD refused the groups: {error}")
    lr_of = view["lr of"]
    head = {f"{len(twin) - 1}.{name}" for name, _ in twin[-1].named_parameters()}
    for name, parameter in twin.named_parameters():
        part, wanted = ("head", HEAD_LR) if name in head else ("body", BODY_LR)
        if name not in lr_of and not parameter.requires_grad:
            fail(f"{where}: {name} (part of the {part}) is frozen and in no group: put every "
                 "parameter in its group, frozen or not, so that the optimizer trains it once it is "
                 "unfrozen.")
        expect(name in lr_of,
               f"{where}: {name} (part of the {part}) is in no group: every parameter must be in "
               "exactly one group, or the optimizer never updates it.")
        lr = lr_of[name]
        lr = float(lr) if type(lr) in (int, float) or (type(lr) is torch.Tensor and lr.numel() == 1) else None
        expect(lr is not None and abs(lr - wanted) < 1e-12,
               f"{where}: {name} is part of the {part} and must get lr={wanted}, "
               f"got {lr_of[name]}. The head is the last layer, model[-1].")
    expect(view["foreign tensors"] == 0,
           f"{where}: a group holds a tensor that is not a parameter of the model.")


# --- Exercise 5: fine_tune -----------------------------------------------------------------

def _which(names: list, start: dict[str, Any]) -> str:
    everything = list(start)
    head = [name for name in everything if name.startswith("5.")]
    chosen = set(names)
    if chosen == set(everything):
        return "model"
    if chosen == set(head):
        return "model[-1]"
    if chosen == set(everything) - set(head):
        return "model[:-1]"
    return f"a part holding {', '.join(map(str, names)) or 'no parameter'}"


def _calls(log: object, start: dict[str, Any]) -> str:
    """What fine_tune asked of set_trainable and param_groups, as a sentence."""
    if type(log) is not list:
        return ""
    said = []
    for call in log:
        if type(call) is not dict:
            continue
        if call.get("function") == "set_trainable" and type(call.get("parameters")) is list:
            said.append(f"set_trainable({_which(call['parameters'], start)}, {call.get('trainable')})")
        elif call.get("function") == "param_groups":
            said.append(f"param_groups(model, {call.get('body_lr')}, {call.get('head_lr')})")
    if not said:
        return " (Your fine_tune called neither set_trainable nor param_groups.)"
    return f" (Your fine_tune called {', then '.join(said)}.)"


def test_fine_tune(got, want):
    start = want["start"]
    where = fine_tune_where(*FROZEN_ONLY)
    after = got["frozen only: parameters"]
    calls = _calls(got["frozen only: calls"], start)
    expect(type(after) is dict and set(after) == set(start),
           f"{where}: the model's parameters changed names or number: train the model you are given.")
    for name, before in start.items():
        if name.startswith("5."):
            expect(not torch.equal(after[name], before),
                   f"{where}: the head did not change: train it during the frozen epochs.{calls}")
        else:
            expect(torch.equal(after[name], before),
                   f"{where}: the body parameter {name} changed while it should be frozen: "
                   f"freeze every layer but the last (set_trainable) before the first phase.{calls}")

    where = fine_tune_where(*BOTH_PHASES)
    got["both phases"]
    calls = _calls(got["calls"], start)
    expect(got["is History"] is True,
           f"{where} must return a labs.History (what labs.fit returns), got {got['history type']}.")
    records = got["history"]
    expect(type(records) is list and all(type(r) is dict for r in records),
           f"{where}: the History's records must be a list of dicts, one per epoch, as labs.fit makes them.")
    epochs = sum(BOTH_PHASES)
    expect(len(records) == epochs,
           f"{where} must return one History covering both phases: {epochs} epochs, got {len(records)}.")
    numbers = [r.get("epoch") for r in records]
    expect(numbers == list(range(1, epochs + 1)),
           f"{where}: number the epochs of the returned History 1 to {epochs} across both phases, "
           f"got {numbers}.")
    expected_lrs = [LR] * BOTH_PHASES[0] + [UNFROZEN_LR] * BOTH_PHASES[1]
    lrs = [r.get("lr") for r in records]
    expect(all(type(a) in (int, float) and abs(a - b) < 1e-12 for a, b in zip(lrs, expected_lrs)),
           f"{where}: the learning rates per epoch must be {expected_lrs}, got {lrs}: "
           "lr while the body is frozen, then the lower unfrozen_lr for everything.")
    bars = got["progress bars shown"]
    expect(bars == 0,
           f"{where} showed {bars} progress bar(s): pass progress=False to labs.fit, as the recipe "
           "says (fine_tune runs hundreds of times, and a test cell must print no progress bar).")
    for number, record in enumerate(records, start=1):
        valid_loss = record.get("valid_loss")
        expect(type(valid_loss) in (int, float) and valid_loss == valid_loss,
               f"{where}: epoch {number} has valid_loss {valid_loss}: pass data[\"valid\"] to labs.fit "
               "in both phases, so that every epoch is evaluated on the validation data.")
    model, reference = got["model"], want["model"]
    expect(type(model) is dict and type(model.get("parameters")) is dict
           and set(model["parameters"]) == set(start),
           f"{where}: the model's parameters changed names or number: train the model you are given.")
    frozen = [name for name, flag in model["requires_grad"].items() if flag is not True]
    expect(not frozen, f"{where}: {frozen} are still frozen when fine_tune returns: unfreeze the "
                       f"whole model (set_trainable(model, True)) for the second phase.{calls}")
    body_moved = any(not torch.equal(model["parameters"][name], start[name])
                     for name in start if name.startswith("0."))
    expect(body_moved, f"{where}: the first layer never changed: after the frozen epochs, "
                       f"unfreeze the body and train everything with a new optimizer.{calls}")
    for name, expected in reference["parameters"].items():
        expect_close(model["parameters"][name], expected, what=f"{where}: parameter {name} after training",
                     rtol=1e-4, atol=1e-5,
                     hint="Follow the recipe exactly: torch.optim.SGD(..., momentum=0.9), "
                          "batch_size=32, loss_fn=nn.BCEWithLogitsLoss(), a fresh "
                          "optimizer at unfrozen_lr for all parameters in phase 2.")
    expect_close(records[-1].get("train_loss"), want["history"][-1]["train_loss"], rtol=1e-3, atol=1e-5,
                 what=f"{where}: training loss of the last epoch",
                 hint="Use nn.BCEWithLogitsLoss() for the binary head.")
    for number, (record, reference) in enumerate(zip(records, want["history"]), start=1):
        expect_close(record["valid_loss"], reference["valid_loss"], rtol=1e-3, atol=1e-5,
                     what=f"{where}: validation loss of epoch {number}",
                     hint="Evaluate on data[\"valid\"] in both phases: the validation data you are given.")


# --- Exercise 6: paired_gain ---------------------------------------------------------------

GAIN_KEYS = {"mean", "low", "high", "n"}
# Tight enough for float64 summed in any order, far too tight for float32.
GAIN_RTOL, GAIN_ATOL = 1e-9, 1e-12
FLOAT64_HINT = "Compute in float64: Python floats, NumPy, or torch with dtype=torch.float64."
SPELLED_OUT = ("the interval is mean ± t · s / √n, with s the sample standard deviation (n − 1) of the "
               "per-seed gains and t = stats.t.ppf((1 + confidence) / 2, n - 1)")


def _mean_std(values: list[float], ddof: int = 1) -> tuple[float, float]:
    mean = math.fsum(values) / len(values)
    return mean, math.sqrt(math.fsum((value - mean) ** 2 for value in values) / (len(values) - ddof))


def _t(quantile: float, degrees: float) -> float:
    return float(stats.t.ppf(quantile, degrees))


def _welch_half_width(scratch: list[float], transfer: list[float], quantile: float) -> float:
    """Half the interval of mean(transfer) − mean(scratch) for two unpaired samples (Welch)."""
    n = len(scratch)
    shares = [_mean_std(list(runs))[1] ** 2 / n for runs in (scratch, transfer)]
    if sum(shares) == 0:
        return math.nan
    degrees = sum(shares) ** 2 / sum(share ** 2 / (n - 1) for share in shares)
    return _t(quantile, degrees) * math.sqrt(sum(shares))


def _pooled_half_width(scratch: list[float], transfer: list[float], quantile: float) -> float:
    """Half the interval of the two means with a pooled variance, 2n − 2 degrees of freedom."""
    n = len(scratch)
    pooled = sum(_mean_std(list(runs))[1] ** 2 for runs in (scratch, transfer)) / 2
    return _t(quantile, 2 * n - 2) * math.sqrt(2 * pooled / n)


def _close(value: float, target: float, rtol: float = GAIN_RTOL) -> bool:
    return math.isclose(value, target, rel_tol=rtol, abs_tol=GAIN_ATOL)


def _half_width_mistakes(scratch: list[float], transfer: list[float], confidence: float
                         ) -> list[tuple[float, str]]:
    """The half-widths that known mistakes give, each with what to tell the student."""
    gains = [float(b) - float(a) for a, b in zip(scratch, transfer)]
    n = len(gains)
    quantile = (1 + confidence) / 2
    _, std = _mean_std(gains)
    _, population_std = _mean_std(gains, ddof=0)
    t = _t(quantile, n - 1)
    error = std / math.sqrt(n)
    mistakes = [
        (float(stats.norm.ppf(quantile)) * error,
         f"used the normal quantile ({float(stats.norm.ppf(quantile)):.3f}) instead of Student's t: "
         f"with {n} seeds s is itself uncertain, so use t with n − 1 = {n - 1} degrees of freedom, "
         f"stats.t.ppf((1 + confidence) / 2, n - 1) = {t:.4f}"),
        (_t(quantile, n) * error,
         f"used t with n = {n} degrees of freedom: the mean uses one up, so take n − 1 = {n - 1}"),
        (t * population_std / math.sqrt(n),
         "divided by n in the standard deviation of the gains: the sample standard deviation divides "
         "by n − 1 (ddof=1 in NumPy, statistics.stdev, torch.std's default)"),
        (t * std,
         "used t times the standard deviation s of the gains: the mean of n gains varies by the "
         "standard error s / √n, so divide by √n"),
        (_t(confidence, n - 1) * error,
         "used the one-sided quantile stats.t.ppf(confidence, n - 1): a two-sided interval leaves "
         "(1 − confidence) / 2 in each tail, so use stats.t.ppf((1 + confidence) / 2, n - 1)"),
        (_t(0.975, n - 1) * error,
         f"built a 95% interval whatever the confidence: use confidence={confidence} in "
         "t = stats.t.ppf((1 + confidence) / 2, n - 1)"),
    ]
    unpaired = ("built the interval of two unpaired means from each method's own spread: the runs "
                "are paired by seed, so use the standard deviation of the per-seed gains "
                "transfer[i] − scratch[i]")
    mistakes += [(_welch_half_width(scratch, transfer, quantile), unpaired),
                 (_pooled_half_width(scratch, transfer, quantile), unpaired)]
    return mistakes


def _check_float(value: object, key: str, where: str) -> float:
    expect(type(value) is float,
           f"{where}: \"{key}\" must be a Python float (float(...)), got {_kind(value)}.")
    return value


def _check_gain_mean(mean: float, expected: float, scratch: list[float], transfer: list[float],
                     where: str) -> None:
    if _close(mean, expected):
        return
    told = f"{where}: the mean gain is {mean:.6g}, expected {expected:.6g}"
    ratios = math.fsum(float(b) / float(a) for a, b in zip(scratch, transfer)) / len(scratch)
    expect(not _close(mean, -expected, 1e-6),
           f"{told}: the gain is transfer[i] − scratch[i] (positive when transfer helps), not "
           "scratch − transfer.")
    expect(not _close(mean, ratios, 1e-6),
           f"{told}: you averaged the ratios transfer[i] / scratch[i]; the gain is the difference "
           "transfer[i] − scratch[i].")
    expect(not _close(mean, 100 * expected, 1e-6),
           f"{told}: you returned percentage points; keep the accuracies' own scale (fractions).")
    expect(not _close(mean, expected, 1e-4),
           f"{told}: a relative error near 1e-7, float32's precision. {FLOAT64_HINT}")
    fail(f"{told}: the mean of the per-seed gains transfer[i] − scratch[i].")


def _check_gain_interval(low: float, high: float, mean: float, half: float, scratch: list[float],
                         transfer: list[float], confidence: float, where: str) -> None:
    expected_low, expected_high = mean - half, mean + half
    if _close(low, expected_low) and _close(high, expected_high):
        return
    told = (f"{where}: got the interval [{low:.6g}, {high:.6g}], expected "
            f"[{expected_low:.6g}, {expected_high:.6g}]")
    expect(not (math.isnan(low) or math.isnan(high)),
           f"{told}: with no spread (s = 0) the interval is [mean, mean] (stats.t.interval returns "
           "nan for a scale of 0: handle s = 0 yourself).")
    expect(_close(high - mean, mean - low, 1e-6),
           f"{told}: the interval must be symmetric around the mean; {SPELLED_OUT}.")
    got_half = (high - low) / 2
    for wrong, message in _half_width_mistakes(scratch, transfer, confidence):
        expect(math.isnan(wrong) or not _close(got_half, wrong, 1e-4) or _close(wrong, half, 1e-4),
               f"{told}: you {message}.")
    expect(not (_close(low, expected_low, 1e-4) and _close(high, expected_high, 1e-4)),
           f"{told}: a relative error near 1e-7, float32's precision. {FLOAT64_HINT}")
    fail(f"{told}: {SPELLED_OUT}.")


def _check_gain(result: object, reference: dict, scratch: list[float], transfer: list[float],
                confidence: float, where: str) -> None:
    expect(type(result) is dict and set(result) == GAIN_KEYS,
           f"{where} must return a dict with exactly the keys \"mean\", \"low\", \"high\" and \"n\", "
           f"got {sorted(result) if type(result) is dict else _kind(result)}.")
    expect(type(result["n"]) is int and result["n"] == len(scratch),
           f"{where}: \"n\" must be the number of seeds, the int {len(scratch)}, got {result['n']!r}.")
    mean, low, high = (_check_float(result[key], key, where) for key in ("mean", "low", "high"))
    expected_mean, std = _mean_std([float(b) - float(a) for a, b in zip(scratch, transfer)])
    half = _t((1 + confidence) / 2, len(scratch) - 1) * std / math.sqrt(len(scratch))
    _check_gain_mean(mean, expected_mean, scratch, transfer, where)
    _check_gain_interval(low, high, expected_mean, half, scratch, transfer, confidence, where)
    for key in ("mean", "low", "high"):
        expect_close(result[key], reference[key], what=f"{where}: \"{key}\"", rtol=GAIN_RTOL,
                     atol=GAIN_ATOL, hint=SPELLED_OUT[0].upper() + SPELLED_OUT[1:] + ".")


def test_paired_gain(got, want):
    for key, scratch, transfer, confidence in gain_cases():
        _check_gain(got[key], want[key], list(scratch), list(transfer),
                    0.95 if confidence is None else confidence, gain_where(key, confidence))
    for key, scratch, transfer in GAIN_ERRORS:
        where = f"paired_gain({scratch}, {transfer})"
        raised = got[key]
        why = ("the two lists must hold one accuracy per seed each" if len(scratch) != len(transfer)
               else "one gain has no spread, so at least 2 seeds are needed")
        expect(raised is not None,
               f"{where} returned instead of raising ValueError: {why}; say what to pass.")
        expect(type(raised) is list and "Refused" not in raised, f"{where}: {GAIN_REFUSED}")
        expect("ValueError" in raised,
               f"{where} raised {raised[0] if raised else '?'} instead of ValueError: {why}; check "
               "the lengths first and raise ValueError, saying what to pass.")
        message = got[f"{key}: message"]
        expect(type(message) is str and message.strip() not in ("", "None"),
               f"{where} raised ValueError without a message: {why}; say so, and what to pass.")

# --- Concept questions ---------------------------------------------------------------------

test_q1_why_freeze = choice_question("Q1")
test_q2_trainable_count = number_question("Q2")
test_q3_lucky_seed = choice_question("Q3")
test_q4_dense_nets = choice_question("Q4")
test_q5_auxiliary_task = choice_question("Q5")
