"""The training loop and its hooks, evaluation, History, and the shared plots."""

import math

import pytest
import torch
from torch import nn

import labs
from labs.training import COLUMNS


@pytest.fixture
def problem():
    """A small linearly separable 3-class problem."""
    generator = torch.Generator().manual_seed(0)
    centers = torch.tensor([[3.0, 0.0], [0.0, 3.0], [-3.0, -3.0]])
    y = torch.arange(300) % 3
    X = centers[y] + torch.randn(300, 2, generator=generator)
    return (X[:240], y[:240]), (X[240:], y[240:])


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))


def test_fit_learns_and_records_one_row_per_epoch(problem):
    train, valid = problem
    model = small_model()
    history = labs.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), train, valid,
                       epochs=5, batch_size=16, progress=False)
    assert len(history) == 5 and set(history.records[0]) == set(COLUMNS)
    assert history["epoch"] == [1, 2, 3, 4, 5]
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history.last["valid_metric"] > 0.9
    assert all(seconds > 0 for seconds in history["seconds"])


def test_fit_steps_an_epoch_scheduler_and_records_the_rate(problem):
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = labs.fit(model, optimizer, *problem, epochs=3, scheduler=scheduler, progress=False)
    assert history["lr"] == [1.0, 0.5, 0.25]


def test_fit_steps_a_batch_scheduler_every_batch(problem):
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    steps = labs.num_batches(240, 32) * 2
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, total_steps=steps)
    labs.fit(model, optimizer, *problem, epochs=2, scheduler=scheduler, scheduler_interval="batch",
             progress=False)
    assert scheduler.last_epoch == steps


def test_fit_gives_plateau_schedulers_the_monitored_value(problem):
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", patience=0)
    labs.fit(model, optimizer, *problem, epochs=2, scheduler=scheduler, monitor="valid_metric",
             progress=False)
    assert scheduler.best > 0.5


def test_fit_clips_the_global_gradient_norm(problem, monkeypatch):
    calls = []
    original = nn.utils.clip_grad_norm_
    monkeypatch.setattr(nn.utils, "clip_grad_norm_",
                        lambda params, max_norm: calls.append(max_norm) or original(params, max_norm))
    model = small_model()
    labs.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), *problem, epochs=1, batch_size=60,
             clip_grad_norm=0.5, progress=False)
    assert calls == [0.5] * 4


class StopAfter:
    """An early-stopping stand-in: stops after `n` epochs and records what fit gave it."""

    def __init__(self, n):
        self.n, self.metrics, self.restored = n, [], False

    def step(self, metric, model):
        self.metrics.append(metric)
        return len(self.metrics) >= self.n

    def restore(self, model):
        self.restored = True


def test_fit_stops_early_and_restores(problem):
    model = small_model()
    stopper = StopAfter(2)
    history = labs.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), *problem, epochs=10,
                       early_stopping=stopper, progress=False)
    assert len(history) == 2 and history.stopped_early and stopper.restored
    assert stopper.metrics == history["valid_loss"]


def test_fit_without_validation_data_leaves_valid_columns_empty(problem):
    train, _ = problem
    model = small_model()
    history = labs.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), train, epochs=1,
                       progress=False)
    assert math.isnan(history.last["valid_loss"]) and not math.isnan(history.last["train_loss"])
    with pytest.raises(ValueError, match="no validation data"):
        labs.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), train, epochs=1,
                 early_stopping=StopAfter(1), progress=False)


def test_fit_augments_training_batches_only(problem):
    seen = []
    model = small_model()
    labs.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), *problem, epochs=1, batch_size=240,
             augment=lambda xb: seen.append(len(xb)) or xb, progress=False)
    assert seen == [240]


def test_fit_refuses_a_model_on_another_device(problem):
    model = small_model().to("meta")
    with pytest.raises(ValueError, match=r"labs\.to_device"):
        labs.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), *problem, epochs=1)


@pytest.mark.parametrize(("argument", "value"), [("scheduler_interval", "step"), ("monitor", "acc")])
def test_fit_refuses_unknown_options(problem, argument, value):
    model = small_model()
    with pytest.raises(ValueError, match=argument):
        labs.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), *problem, epochs=1,
                 **{argument: value})


def test_evaluate_uses_eval_mode_and_restores_training_mode(problem):
    model = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.9))
    model.train()
    _, (X, y) = problem
    first = labs.evaluate(model, X, y)
    assert model.training and first == labs.evaluate(model, X, y)


def test_accuracy_handles_class_scores_and_single_logits():
    assert labs.accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0])).item() == 0.5
    assert labs.accuracy(torch.tensor([1.5, -2.0, 0.5]), torch.tensor([1.0, 0.0, 0.0])).item() == \
        pytest.approx(2 / 3)


def test_history_columns_best_and_table():
    history = labs.History([
        {"epoch": 1, "train_loss": 1.0, "train_metric": 0.5, "valid_loss": 1.1, "valid_metric": 0.4,
         "lr": 0.1, "seconds": 3.0},
        {"epoch": 2, "train_loss": 0.5, "train_metric": 0.8, "valid_loss": 0.9, "valid_metric": 0.7,
         "lr": 0.1, "seconds": 1.0}])
    assert history["valid_metric"] == [0.4, 0.7]
    assert history.best()["epoch"] == 2 and history.best("valid_loss", "min")["epoch"] == 2
    assert history.mean_epoch_seconds() == 1.0
    assert len(history.table().splitlines()) == 3
    with pytest.raises(KeyError, match="choose from"):
        history["accuracy"]


def _texts(fig):
    axes = fig.axes
    return ([ax.get_title() for ax in axes], [ax.get_xlabel() for ax in axes],
            [ax.get_legend() is not None for ax in axes])


def test_plots_have_titles_labels_and_legends(problem):
    history = labs.History([{"epoch": 1, "train_loss": 1.0, "train_metric": 0.5, "valid_loss": 1.0,
                             "valid_metric": 0.5, "lr": 0.1, "seconds": 1.0}])
    figures = [
        labs.plot_learning_curves({"run": history}),
        labs.plot_layer_stats({"run": [{"std": 1.0, "grad_norm": 0.1}, {"std": 0.5, "grad_norm": 0.2}]}),
        labs.plot_schedules({"constant": [0.1] * 5}),
        labs.plot_range_test([1e-4, 1e-3, 1e-2], [2.0, 1.0, 3.0], suggestion=1e-3),
    ]
    for fig in figures:
        titles, xlabels, legends = _texts(fig)
        assert all(titles) and all(xlabels) and all(legends)
    assert math.isclose(figures[3].axes[0].lines[1].get_xdata()[0], 1e-3)


def test_make_mlp_builds_the_requested_depth_and_width():
    model = labs.make_mlp(depth=3, width=20, activation=nn.Tanh, n_inputs=12, n_outputs=4)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(12, 20), (20, 20), (20, 20), (20, 4)]
    assert sum(isinstance(m, nn.Tanh) for m in model) == 3
    assert model(torch.randn(5, 3, 2, 2)).shape == (5, 4)
    with pytest.raises(ValueError, match="at least 1"):
        labs.make_mlp(depth=0, width=10)
