"""Every lab runs end to end with papermill in quick mode on the synthetic stand-in, as in CI."""

import pytest

from autograder import notebooks
from autograder.run import run_lab
from tests.labs_under_test import lab_params

pytestmark = pytest.mark.slow


def _outputs(cell):
    return cell.get("outputs", [])


@pytest.mark.parametrize("lab", lab_params())
def test_lab_runs_end_to_end_in_quick_mode(lab, tmp_path):
    result = run_lab(lab, tmp_path, quick=True)
    assert result.ok, result.error
    executed = notebooks.read(result.output)
    text = "\n".join(output.get("text", "") for cell in executed.cells for output in _outputs(cell)
                     if output.get("output_type") == "stream")
    assert "Device:" in text and "QUICK mode" in text, "the banner says what runs where"
    loads_data = any("labs.load_" in cell.source for cell in executed.cells if cell.cell_type == "code")
    if loads_data:
        assert "SYNTHETIC STAND-IN" in text, "the stand-in announces itself"
    images = [output for cell in executed.cells for output in _outputs(cell)
              if "image/png" in output.get("data", {})]
    assert images, "the experiments draw their plots"
    experiments = [cell for cell in executed.cells if notebooks.is_experiment(cell)]
    assert all(cell.get("execution_count") for cell in experiments), "every experiment ran"
