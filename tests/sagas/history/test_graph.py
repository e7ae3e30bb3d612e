"""``graph``: saga definitions as Mermaid flowcharts, warning for steps nothing undoes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sagalog.sagas.catalog import DEFINITIONS
from sagalog.sagas.history import mermaid_flowchart
from sagalog.sagas.master import master_saga

RUN = Path(__file__).resolve().parents[3] / "run.py"
NODE = re.compile(r"^    (step_\w+)(\[\[|\[/|\[)\"")


def test_order_shows_each_step_with_its_compensation_and_warns_for_product() -> None:
    text, warnings = mermaid_flowchart(DEFINITIONS["order"])
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    for step, undone in (("payment", "PaymentRefunded"), ("inventory", "InventoryRestored"),
                         ("shipping", "ShippingCancelled")):
        assert f"    step_{step} -.->|compensate| step_{step}_undo" in lines
        assert any(line.startswith(f'    step_{step}_undo[/"undo {step}<br/>done: {undone}')
                   for line in lines)
    (warning,) = warnings
    assert warning.startswith("step product can fail (ProductNotFound) and has no compensation")
    assert f"  %% warning: {warning}" in lines
    assert "  class step_product uncompensated" in lines


def test_parallel_steps_share_one_stage_box() -> None:
    """The three parallel steps are drawn inside one subgraph, below the product check."""
    text, _ = mermaid_flowchart(DEFINITIONS["order"])
    stage = text.split('subgraph stage1["stage 2"]\n', 1)[1].split("  end\n", 1)[0]
    assert [m.group(1) for line in stage.splitlines() if (m := NODE.match(line))] == [
        "step_payment", "step_payment_undo", "step_inventory", "step_inventory_undo",
        "step_shipping", "step_shipping_undo"]
    assert "  stage0 --> stage1" in text.splitlines()


@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_every_built_in_definition_renders(name: str) -> None:
    """Each step is a node, each stage a box (opened and closed), each gate a diamond."""
    definition = DEFINITIONS[name]
    text, warnings = mermaid_flowchart(definition)
    lines = text.splitlines()
    nodes = {m.group(1) for line in lines if (m := NODE.match(line))}
    assert {f"step_{step}" for step in definition.steps_by_name} <= nodes
    assert sum(line.startswith("  subgraph ") for line in lines) == len(definition.stages)
    assert lines.count("  end") == len(definition.stages)
    gates = [stage.gate for stage in definition.stages if stage.gate is not None]
    assert sum('{"gate ' in line for line in lines) == len(gates)
    assert len([line for line in lines if line.startswith("  %% warning: ")]) == len(warnings)
    assert lines[-1].startswith(("  stage", "  class "))


def test_gates_show_where_no_leads() -> None:
    """A skipping gate jumps to what follows its stage; a stopping one ends the saga."""
    job = mermaid_flowchart(DEFINITIONS["job"])[0].splitlines()
    assert "  gate1 -.->|no: skip| gate2" in job
    assert "  gate2 -.->|no: skip| done" in job
    etl = mermaid_flowchart(DEFINITIONS["etl-source"])[0]
    assert '  gate2 -.->|"no: stop the saga"| stopped(["stopped: completed early"])' in etl


def test_a_fan_out_is_marked_with_its_cap() -> None:
    text, warnings = mermaid_flowchart(master_saga())
    assert 'step_semantic_refresh[["semantic_refresh<br/>for each item, at most 2 at once' in text
    assert "<br/>3 tries" in text
    assert any(w.startswith("fan-out semantic_refresh can fail") for w in warnings)


def test_the_cli_prints_the_chart_and_warns_on_stderr() -> None:
    result = subprocess.run([sys.executable, str(RUN), "-q", "graph", "order"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("flowchart TD\n")
    assert result.stderr.startswith("sagalog: warning: step product can fail")
    assert result.stderr.count("\n") == 1


def test_an_unknown_saga_is_one_line_naming_the_known_ones() -> None:
    result = subprocess.run([sys.executable, str(RUN), "-q", "graph", "nope"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr == ("sagalog: error: no saga named 'nope' (known: data-pipeline, "
                             "etl-source, job, master-pipeline, order)\n")
