"""Helpers the labs share: device and seeding, data on the device, batching, training, plots.

Everything a lab is *about* stays in its notebook; these helpers hide only the plumbing a
student should not have to fight.
"""

from labs.augment import random_crop_flip
from labs.batching import batches, num_batches
from labs.data import (
    CIFAR10,
    FASHION_MNIST,
    DataUnavailableError,
    Splits,
    data_root,
    dataset_source,
    load_cifar10,
    load_fashion_mnist,
)
from labs.device import (
    amp_dtype,
    autocast,
    choose_device,
    describe_device,
    grad_scaler,
    seed_everything,
    to_device,
    uses_channels_last,
)
from labs.models import make_mlp
from labs.plots import (
    plot_layer_histograms,
    plot_layer_stats,
    plot_learning_curves,
    plot_range_test,
    plot_schedules,
)
from labs.session import banner, quick_mode
from labs.training import History, accuracy, evaluate, fit

__all__ = [
    "CIFAR10",
    "FASHION_MNIST",
    "DataUnavailableError",
    "History",
    "Splits",
    "accuracy",
    "amp_dtype",
    "autocast",
    "banner",
    "batches",
    "choose_device",
    "data_root",
    "dataset_source",
    "describe_device",
    "evaluate",
    "fit",
    "grad_scaler",
    "load_cifar10",
    "load_fashion_mnist",
    "make_mlp",
    "num_batches",
    "plot_layer_histograms",
    "plot_layer_stats",
    "plot_learning_curves",
    "plot_range_test",
    "plot_schedules",
    "quick_mode",
    "random_crop_flip",
    "seed_everything",
    "to_device",
    "uses_channels_last",
]
