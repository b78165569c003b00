"""The labs and their known answers, as pytest parameters (ids read like `01_initialization`)."""

import pytest

from autograder.course import all_labs

LABS = all_labs()


def lab_params():
    return [pytest.param(lab, id=lab.lab_id) for lab in LABS]


def variant_params(kind: str):
    """Every MISTAKES or ALTERNATIVES entry of every lab, one parameter each."""
    return [pytest.param(lab, variant, id=f"{lab.lab_id}: {variant.name}")
            for lab in LABS for variant in getattr(lab.variants(), kind)]
