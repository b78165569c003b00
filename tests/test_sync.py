"""Solution regions: parsing, and a later lab reusing an earlier lab's answers by reference."""

import pytest

from autograder.sync import solution_regions


def test_regions_are_split_at_their_markers(tmp_path):
    module = tmp_path / "lab01_x.py"
    module.write_text('"""doc"""\nimport math\n\n\n# %% cell: a\ndef a():\n    return 1\n\n\n'
                      '# %% cell: b\nB = 2\n')
    assert solution_regions(module) == {"a": "def a():\n    return 1", "b": "B = 2"}


def test_a_region_can_include_regions_of_an_earlier_lab(tmp_path):
    (tmp_path / "lab01_x.py").write_text("# %% cell: a\nA = 1\n\n\n# %% cell: b\nB = 2\n")
    later = tmp_path / "lab02_y.py"
    later.write_text("from solutions.lab01_x import A, B\n\n\n"
                     "# %% cell: tools from solutions.lab01_x: a, b\n\n\n# %% cell: own\nC = 3\n")
    assert solution_regions(later) == {"tools": "A = 1\n\n\nB = 2", "own": "C = 3"}


def test_an_include_with_code_of_its_own_or_a_missing_region_is_refused(tmp_path):
    (tmp_path / "lab01_x.py").write_text("# %% cell: a\nA = 1\n")
    later = tmp_path / "lab02_y.py"
    later.write_text("# %% cell: tools from solutions.lab01_x: a\nextra = 1\n")
    with pytest.raises(ValueError, match="no code of its own"):
        solution_regions(later)
    later.write_text("# %% cell: tools from solutions.lab01_x: zzz\n")
    with pytest.raises(ValueError, match="has no region zzz"):
        solution_regions(later)


def test_a_region_may_not_appear_twice(tmp_path):
    module = tmp_path / "lab01_x.py"
    module.write_text("# %% cell: a\nA = 1\n# %% cell: a\nA = 2\n")
    with pytest.raises(ValueError, match="appears twice"):
        solution_regions(module)
