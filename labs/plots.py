"""Plots the labs share: learning curves, per-layer statistics, schedules and the range test.

Each function draws a complete figure (title, axis labels, legend) and returns it, so a
notebook cell can show it and a test can inspect it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

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
