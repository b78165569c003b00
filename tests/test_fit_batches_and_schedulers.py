"""`labs.fit` never hands a model a training batch of one sample (batch norm cannot train on it), and
gives the monitored metric to any scheduler whose `step` needs it (performance scheduling)."""

import torch
from torch import nn

import labs


def _batch_sizes_seen(n: int, batch_size: int) -> list[int]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    seen = []
    model[0].register_forward_hook(lambda module, inputs, output: seen.append(len(inputs[0])))
    X, y = torch.randn(n, 3), torch.randint(0, 2, (n,))
    labs.fit(model, torch.optim.SGD(model.parameters(), lr=0.01), (X, y), epochs=2,
             batch_size=batch_size, progress=False)
    return seen


def test_a_last_batch_of_one_is_dropped_so_batch_norm_trains():
    assert _batch_sizes_seen(65, 32) == [32, 32] * 2


def test_other_last_batches_are_kept():
    assert _batch_sizes_seen(66, 32) == [32, 32, 2] * 2
    assert _batch_sizes_seen(64, 32) == [32, 32] * 2


def test_a_single_sample_still_trains_on_its_own():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    history = labs.fit(model, torch.optim.SGD(model.parameters(), lr=0.01),
                       (torch.randn(1, 3), torch.tensor([1])), epochs=1, batch_size=32, progress=False)
    assert len(history) == 1


class _PlateauLike:
    """A performance scheduler written from scratch: its `step` needs the metric."""

    def __init__(self):
        self.seen = []

    def step(self, metric):
        self.seen.append(metric)


def test_fit_hands_the_monitored_metric_to_any_scheduler_whose_step_needs_it():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    X, y = torch.randn(40, 3), torch.randint(0, 2, (40,))
    scheduler = _PlateauLike()
    history = labs.fit(model, torch.optim.SGD(model.parameters(), lr=0.01), (X, y), (X, y), epochs=2,
                       scheduler=scheduler, monitor="valid_metric", progress=False)
    assert scheduler.seen == history["valid_metric"]
