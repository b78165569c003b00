"""Shared test setup: the synthetic stand-in, a scratch data root, a non-interactive plot backend,
and a release of every lab made once per session.

Nothing in the suite needs a network, a GPU or the real data sets.
"""

import os
import tempfile

import pytest

os.environ["DNNLABS_DATASET"] = "synthetic"
os.environ.setdefault("DNNLABS_DATA", tempfile.mkdtemp(prefix="dnnlabs-data-"))
os.environ["MPLBACKEND"] = "Agg"
os.environ.pop("DNNLABS_QUICK", None)
os.environ.pop("DNNLABS_DEVICE", None)


@pytest.fixture(scope="session")
def released(tmp_path_factory):
    """Every lab released once for the whole session."""
    from autograder.course import all_labs
    from autograder.release import release

    return release(all_labs(), tmp_path_factory.mktemp("release"))
