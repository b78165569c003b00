"""On-device batching: every row once per epoch, in a fresh order when shuffled."""

import pytest
import torch

from labs import batches, num_batches


def test_every_row_appears_once_per_epoch():
    X, y = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    seen = torch.cat([yb for _, yb in batches(X, y, 3)])
    assert sorted(seen.tolist()) == list(range(10))


def test_rows_stay_paired_with_their_labels():
    X, y = torch.arange(50).float().unsqueeze(1), torch.arange(50)
    for xb, yb in batches(X, y, 7):
        assert torch.equal(xb.squeeze(1).long(), yb)


def test_shuffle_changes_the_order_and_no_shuffle_keeps_it():
    X, y = torch.zeros(100, 1), torch.arange(100)
    torch.manual_seed(0)
    shuffled = torch.cat([yb for _, yb in batches(X, y, 10)])
    ordered = torch.cat([yb for _, yb in batches(X, y, 10, shuffle=False)])
    assert not torch.equal(shuffled, ordered) and torch.equal(ordered, y)


def test_generator_makes_the_order_repeatable():
    X, y = torch.zeros(20, 1), torch.arange(20)
    orders = [torch.cat([yb for _, yb in batches(X, y, 5, generator=torch.Generator().manual_seed(3))])
              for _ in range(2)]
    assert torch.equal(*orders)


def test_drop_last_and_batch_count():
    X, y = torch.zeros(10, 1), torch.arange(10)
    assert [len(yb) for _, yb in batches(X, y, 4, drop_last=True)] == [4, 4]
    assert num_batches(10, 4) == 3 and num_batches(10, 4, drop_last=True) == 2


def test_mismatched_lengths_and_bad_batch_size_are_refused():
    with pytest.raises(ValueError, match="must match"):
        list(batches(torch.zeros(3, 1), torch.zeros(4), 2))
    with pytest.raises(ValueError, match="at least 1"):
        list(batches(torch.zeros(3, 1), torch.zeros(3), 0))
