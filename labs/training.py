"""A small, transparent training loop: `fit`, `evaluate` and the per-epoch `History`.

`fit` is what every lab uses once its lesson is learned; the lesson itself (an initializer,
an optimizer, a scheduler, a regularizer) is passed in. Hooks: a scheduler stepped per epoch
or per batch, gradient clipping, early stopping (any object with `step(metric, model) -> bool`
and optionally `restore(model)`), batch augmentation and mixed precision.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from labs.batching import batches, num_batches
from labs.device import autocast, grad_scaler, uses_channels_last

Metric = Callable[[Tensor, Tensor], Tensor]
COLUMNS = ("epoch", "train_loss", "train_metric", "valid_loss", "valid_metric", "lr", "seconds")


class EarlyStopper(Protocol):
    """What `fit` needs from an early-stopping object (lab 08 builds one)."""

    def step(self, metric: float, model: nn.Module) -> bool: ...


def accuracy(outputs: Tensor, targets: Tensor) -> Tensor:
    """Fraction of correct predictions: argmax of class scores, or logit > 0 for one output."""
    if outputs.ndim == 1 or outputs.shape[-1] == 1:
        predicted = (outputs.reshape(-1) > 0).long()
        return (predicted == targets.reshape(-1).long()).float().mean()
    return (outputs.argmax(dim=-1) == targets).float().mean()


@dataclass
class History:
    """One record per epoch: train/valid loss and metric, learning rate and seconds taken.

    `history["valid_metric"]` gives a column as a list; `history.records` the raw rows.
    """

    records: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False

    def __getitem__(self, column: str) -> list[float]:
        if column not in COLUMNS:
            raise KeyError(f"No column {column!r} in a History: choose from {', '.join(COLUMNS)}.")
        return [record[column] for record in self.records]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def last(self) -> dict[str, float]:
        if not self.records:
            raise IndexError("This History is empty: fit ran no epoch.")
        return self.records[-1]

    def best(self, column: str = "valid_metric", mode: str = "max") -> dict[str, float]:
        """The record with the best value of `column` ("max" or "min")."""
        pick = max if mode == "max" else min
        return pick(self.records, key=lambda record: record[column])

    def mean_epoch_seconds(self) -> float:
        """Average seconds per epoch, leaving out the first (warm-up) epoch when there are more."""
        seconds = self["seconds"][1:] if len(self) > 1 else self["seconds"]
        return sum(seconds) / len(seconds)

    def table(self) -> str:
        """The history as an aligned text table, one line per epoch."""
        header = "epoch  train_loss  train_metric  valid_loss  valid_metric        lr  seconds"
        lines = [header]
        for r in self.records:
            lines.append(f"{r['epoch']:5d}  {r['train_loss']:10.4f}  {r['train_metric']:12.4f}  "
                         f"{r['valid_loss']:10.4f}  {r['valid_metric']:12.4f}  {r['lr']:8.2e}  "
                         f"{r['seconds']:7.2f}")
        return "\n".join(lines)


@torch.no_grad()
def evaluate(model: nn.Module, X: Tensor, y: Tensor, loss_fn: nn.Module | None = None,
             metric: Metric = accuracy, batch_size: int = 1024,
             amp: bool = False) -> tuple[float, float]:
    """Mean loss and metric of `model` on `(X, y)` in eval mode; the model's mode is restored."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    was_training = model.training
    model.eval()
    try:
        total_loss, total_metric = _zero(X.device), _zero(X.device)
        channels_last = uses_channels_last(model, X.device)
        for xb, yb in batches(X, y, batch_size, shuffle=False):
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with autocast(X.device, enabled=amp):
                outputs = model(xb)
                total_loss += loss_fn(outputs, yb).float() * len(xb)
            total_metric += metric(outputs.float(), yb) * len(xb)
        n = max(len(X), 1)
        return total_loss.item() / n, total_metric.item() / n
    finally:
        model.train(was_training)


def fit(model: nn.Module, optimizer: torch.optim.Optimizer, train: tuple[Tensor, Tensor],
        valid: tuple[Tensor, Tensor] | None = None, *, epochs: int, batch_size: int = 32,
        loss_fn: nn.Module | None = None, metric: Metric = accuracy,
        scheduler: object | None = None, scheduler_interval: str = "epoch",
        clip_grad_norm: float | None = None, early_stopping: EarlyStopper | None = None,
        monitor: str = "valid_loss", augment: Callable[[Tensor], Tensor] | None = None,
        amp: bool = False, progress: bool = True, desc: str | None = None) -> History:
    """Train `model` for `epochs` epochs on `train` and return its per-epoch History.

    - `scheduler` steps after every epoch, or after every optimizer step when
      `scheduler_interval="batch"` (1cycle); a scheduler whose `step` needs an argument
      (`ReduceLROnPlateau`, or one written like it) gets the `monitor` value.
    - `clip_grad_norm` clips the global gradient norm before each optimizer step.
    - `early_stopping.step(record[monitor], model)` runs after each epoch; True stops
      training, and `early_stopping.restore(model)` (if it has one) runs at the end.
    - Without `valid`, the valid_* columns are NaN (nothing is evaluated twice on training data).
    - `augment` transforms each training batch of inputs (on the device).
    - `amp` turns on mixed precision where it helps (CUDA); it is a no-op on a CPU.
    - A last batch of a single sample (len(train) % batch_size == 1) is dropped: batch norm
      cannot train on one sample. The order is reshuffled every epoch, so it is a different
      sample each time and none is left out for good.
    """
    X_train, y_train = train
    _check_same_device(model, X_train)
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}.")
    if monitor not in COLUMNS:
        raise ValueError(f"monitor must be one of {', '.join(COLUMNS)}, got {monitor!r}.")
    watches_valid = early_stopping is not None or _steps_on_metric(scheduler)
    if valid is None and watches_valid and monitor.startswith("valid"):
        raise ValueError(f"Early stopping and ReduceLROnPlateau watch {monitor!r}, but no validation "
                         "data was given: pass valid=(X_valid, y_valid), or monitor='train_loss'.")
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = X_train.device
    scaler = grad_scaler(device, enabled=amp)
    channels_last = uses_channels_last(model, device)
    history = History()
    steps_per_epoch = num_batches(len(X_train), batch_size, drop_last=_drops_last(len(X_train), batch_size))
    bar = tqdm(total=epochs * steps_per_epoch, desc=desc or type(model).__name__, unit="batch",
               disable=not progress, mininterval=0.5, leave=True)
    try:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            lr = optimizer.param_groups[0]["lr"]
            model.train()
            sums = {"loss": _zero(device), "metric": _zero(device), "n": 0}
            for step, (xb, yb) in enumerate(_epoch_batches(X_train, y_train, batch_size,
                                                           augment, channels_last)):
                outputs, loss = _train_step(model, optimizer, loss_fn, xb, yb, scaler,
                                            clip_grad_norm, amp)
                if scheduler is not None and scheduler_interval == "batch":
                    scheduler.step()
                sums["loss"] += loss.detach().float() * len(xb)
                sums["metric"] += metric(outputs.detach().float(), yb) * len(xb)
                sums["n"] += len(xb)
                bar.update()
                if progress and step % 50 == 0:
                    bar.set_postfix(epoch=epoch, loss=f"{sums['loss'].item() / sums['n']:.4f}",
                                    metric=f"{sums['metric'].item() / sums['n']:.4f}")
            record = {"epoch": epoch, "train_loss": sums["loss"].item() / sums["n"],
                      "train_metric": sums["metric"].item() / sums["n"], "lr": lr}
            valid_loss, valid_metric = (evaluate(model, *valid, loss_fn=loss_fn, metric=metric,
                                                 amp=amp) if valid is not None
                                        else (float("nan"), float("nan")))
            record.update(valid_loss=valid_loss, valid_metric=valid_metric,
                          seconds=time.perf_counter() - start)
            history.records.append(record)
            bar.set_postfix(epoch=epoch, loss=f"{record['train_loss']:.4f}",
                            valid_loss=f"{valid_loss:.4f}", valid_metric=f"{valid_metric:.4f}")
            if scheduler is not None and scheduler_interval == "epoch":
                _step_epoch_scheduler(scheduler, record[monitor])
            if early_stopping is not None and early_stopping.step(record[monitor], model):
                history.stopped_early = True
                break
    finally:
        bar.close()
    if early_stopping is not None and hasattr(early_stopping, "restore"):
        early_stopping.restore(model)
    return history


def _drops_last(n: int, batch_size: int) -> bool:
    """Whether an epoch drops its last batch: only when that batch would hold a single sample."""
    return n > 1 and n % batch_size == 1


def _epoch_batches(X: Tensor, y: Tensor, batch_size: int, augment: Callable | None,
                   channels_last: bool) -> Iterator[tuple[Tensor, Tensor]]:
    for xb, yb in batches(X, y, batch_size, drop_last=_drops_last(len(X), batch_size)):
        if augment is not None:
            xb = augment(xb)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        yield xb, yb


def _train_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: nn.Module,
                xb: Tensor, yb: Tensor, scaler: torch.amp.GradScaler,
                clip_grad_norm: float | None, amp: bool) -> tuple[Tensor, Tensor]:
    with autocast(xb.device, enabled=amp):
        outputs = model(xb)
        loss = loss_fn(outputs, yb)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if clip_grad_norm is not None:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
    scaler.step(optimizer)
    scaler.update()
    return outputs, loss


def _steps_on_metric(scheduler: object) -> bool:
    """Whether `scheduler.step` needs the monitored metric: performance scheduling."""
    if scheduler is None:
        return False
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        return True
    try:
        parameters = inspect.signature(scheduler.step).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.default is inspect.Parameter.empty
               and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)


def _step_epoch_scheduler(scheduler: object, monitored: float) -> None:
    if _steps_on_metric(scheduler):
        scheduler.step(monitored)
    else:
        scheduler.step()


def _check_same_device(model: nn.Module, X: Tensor) -> None:
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.device != X.device:
        raise ValueError(f"The model is on {parameter.device} but the data is on {X.device}: "
                         "move the model with labs.to_device(model, device) (or the data with "
                         "splits.to(device)) before calling fit.")


def _zero(device: torch.device) -> Tensor:
    return torch.zeros((), device=device)
