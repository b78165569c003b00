"""Plots the labs share: learning curves, per-layer statistics and histograms, schedules and the
range test.

Each function draws a complete figure (title, axis labels, legend) and returns it, so a
notebook cell can show it and a test can inspect it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator
from torch import nn

from labs.training import History


def plot_learning_curves(histories: Mapping[str, History], title: str = "Learning curves",
                         metric_name: str = "accuracy") -> Figure:
    """Loss and metric per epoch for each named run: training dashed, validation solid."""
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for index, (label, history) in enumerate(histories.items()):
        color = f"C{index % 10}"
        epochs = history["epoch"]
        marker = "o" if len(epochs) < 12 else None
        ax_loss.plot(epochs, history["train_loss"], "--", color=color, marker=marker,
                     label=f"{label} (train)")
        ax_loss.plot(epochs, history["valid_loss"], "-", color=color, marker=marker,
                     label=f"{label} (valid)")
        ax_metric.plot(epochs, history["train_metric"], "--", color=color, marker=marker,
                       label=f"{label} (train)")
        ax_metric.plot(epochs, history["valid_metric"], "-", color=color, marker=marker,
                       label=f"{label} (valid)")
    ax_loss.set(title="Loss", xlabel="epoch", ylabel="loss")
    ax_metric.set(title=metric_name.capitalize(), xlabel="epoch", ylabel=metric_name)
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title)
    return fig


def plot_layer_stats(runs: Mapping[str, Sequence[Mapping[str, float]]],
                     keys: Sequence[str] = ("std", "grad_norm"),
                     title: str = "Per-layer statistics", log_keys: Sequence[str] = ("grad_norm",),
                     labels: Mapping[str, str] | None = None) -> Figure:
    """One panel per statistic in `keys`, one line per run, layer index on the x axis.

    `runs` maps a run's name to its list of per-layer dicts (as lab 01's `layer_stats` returns).
    """
    labels = dict(labels or {})
    fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 4), constrained_layout=True,
                             squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, stats in runs.items():
            layers = range(1, len(stats) + 1)
            ax.plot(layers, [layer[key] for layer in stats], marker="o", label=name)
        if key in log_keys:
            ax.set_yscale("log")
        ax.set(title=labels.get(key, key), xlabel="layer (input → output)",
               ylabel=labels.get(key, key))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title)
    return fig


def plot_layer_histograms(models: Mapping[str, nn.Module], X: torch.Tensor, y: torch.Tensor,
                          loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
                          bins: int = 50,
                          title: str = "Hidden layers' outputs and gradients on one batch") -> Figure:
    """One row per model: histograms of each hidden layer's output on the batch (X, y) (left),
    and of the loss's gradient with respect to that output, as log10 of its magnitude (right),
    layers overlaid from first to last.

    A model's hidden layers are its children that directly follow an `nn.Linear` (the
    activations of `labs.make_mlp`). A unit is **dead** on the batch when its output is 0 for
    every example, or its gradient is 0 for every example (nothing it outputs reaches the loss);
    each row's title gives the fraction of dead units over all its hidden layers. The models keep
    their mode, and no `.grad` is written: the gradients come from `torch.autograd.grad`.
    """
    fig, axes = plt.subplots(len(models), 2, figsize=(12, 2.8 * len(models)),
                             constrained_layout=True, squeeze=False)
    for (ax_out, ax_grad), (name, model) in zip(axes, models.items()):
        outputs, gradients = _outputs_and_gradients(model, X, y, loss_fn)
        colors = plt.cm.viridis([index / max(len(outputs) - 1, 1) for index in range(len(outputs))])
        values = [output.flatten().float().cpu() for output in outputs]
        magnitudes = [grad.flatten().float().abs().cpu() for grad in gradients]
        magnitudes = [m[m > 0].log10() for m in magnitudes]
        for ax, samples in ((ax_out, values), (ax_grad, magnitudes)):
            edges = _shared_bins(samples, bins)
            for index, (sample, color) in enumerate(zip(samples, colors), start=1):
                counts = torch.histogram(sample, bins=edges).hist
                ax.stairs(counts.numpy(), edges.numpy(), color=color, label=f"layer {index}")
            ax.grid(alpha=0.3)
        ax_out.set(title=f"{name}: outputs ({_dead_fraction(outputs, gradients):.1%} dead units)",
                   xlabel="output of the hidden layer", ylabel="count (log scale)", yscale="log")
        ax_grad.set(title=f"{name}: gradients", ylabel="count",
                    xlabel="log10 |d loss / d output| (exact zeros left out)")
        ax_out.yaxis.set_minor_locator(NullLocator())  # minor log ticks: slow to draw, little use
        ax_out.legend(fontsize="x-small", ncol=2)
    fig.suptitle(title)
    return fig


def _outputs_and_gradients(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                           loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                           ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Each hidden layer's output on (X, y) and the loss's gradient with respect to it."""
    children = list(model.children())
    layers = [layer for before, layer in itertools.pairwise(children) if isinstance(before, nn.Linear)]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no child after an nn.Linear to watch: "
                         "build it as labs.make_mlp does.")
    outputs: list[torch.Tensor] = []
    handles = [layer.register_forward_hook(lambda module, inputs, output: outputs.append(output))
               for layer in layers]
    try:
        loss = loss_fn(model(X), y)
    finally:
        for handle in handles:
            handle.remove()
    gradients = torch.autograd.grad(loss, outputs)
    return [output.detach() for output in outputs], list(gradients)


def _dead_fraction(outputs: Sequence[torch.Tensor], gradients: Sequence[torch.Tensor]) -> float:
    """The fraction of units whose output, or whose gradient, is 0 on every example."""
    dead = total = 0
    for output, grad in zip(outputs, gradients):
        silent = (output.reshape(len(output), -1) == 0).all(dim=0)
        cut_off = (grad.reshape(len(grad), -1) == 0).all(dim=0)
        dead += int((silent | cut_off).sum())
        total += silent.numel()
    return dead / total


def _shared_bins(samples: Sequence[torch.Tensor], bins: int) -> torch.Tensor:
    """`bins` equal bins over the range of every sample together (one unit wide if constant)."""
    values = torch.cat(list(samples)) if samples else torch.zeros(1)
    low, high = (values.min().item(), values.max().item()) if values.numel() else (0.0, 1.0)
    if low == high:
        low, high = low - 0.5, high + 0.5
    return torch.linspace(low, high, bins + 1)


def plot_schedules(schedules: Mapping[str, Sequence[float]], title: str = "Learning-rate schedules",
                   xlabel: str = "step", ylabel: str = "learning rate",
                   log_y: bool = False) -> Figure:
    """Each named sequence of learning rates (or momenta) against its step."""
    fig, ax = plt.subplots(figsize=(8, 4), constrained_layout=True)
    for name, values in schedules.items():
        ax.plot(range(len(values)), list(values), label=name)
    if log_y:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def plot_range_test(lrs: Sequence[float], losses: Sequence[float],
                    suggestion: float | None = None,
                    title: str = "Learning-rate range test") -> Figure:
    """Loss against a log-scaled learning rate, with the suggested rate marked.

    The y axis stops at twice the first loss, so the final explosion does not squash the
    part of the curve that matters.
    """
    fig, ax = plt.subplots(figsize=(8, 4), constrained_layout=True)
    ax.plot(list(lrs), list(losses), label="loss per iteration")
    finite = [loss for loss in losses if math.isfinite(loss)]
    if finite:
        ax.set_ylim(min(finite) * 0.95, max(min(2 * finite[0], max(finite)), min(finite)) * 1.05)
    if suggestion is not None:
        ax.axvline(suggestion, color="C3", linestyle="--", label=f"suggested lr = {suggestion:.2g}")
    ax.set_xscale("log")
    ax.set(title=title, xlabel="learning rate (log scale)", ylabel="training loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig
