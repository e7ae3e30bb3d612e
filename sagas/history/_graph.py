"""A saga definition drawn as a Mermaid flowchart, with the steps nothing would undo.

Stages run top to bottom, each a box whose steps sit side by side (they run in
parallel); a gate is a decision diamond in front of its stage, with the edge taken when
it says no (skip the stage, or stop the saga); a fan-out (:class:`ForEach`) shows its
cap; each step's compensation hangs under it on a dashed edge.

A step that can fail (it has failure events) and has no compensation is flagged: when a
later step fails, whatever it did stays done. That is sometimes right (a check changes
nothing), so it is a warning, in the chart (``%%`` comments and a red border) and for
the caller to print. A dead letter can fail any step; only declared failure events
count here, as they are what the definition's author chose to model.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sagalog.events import mermaid_text, printable
from sagalog.sagas._definition import ForEach, Step

if TYPE_CHECKING:
    from sagalog.sagas._definition import SagaDefinition, Stage

__all__ = ["mermaid_flowchart", "uncompensated"]


def uncompensated(definition: SagaDefinition) -> list[str]:
    """A warning for each step that can fail and has no compensation, naming its failures."""
    warnings = []
    for step in definition.steps_by_name.values():
        if not step.failed:
            continue
        failures = ", ".join(kind.message_type for kind in step.failed)
        if isinstance(step, ForEach):
            warnings.append(f"fan-out {step.name} can fail ({failures}) and its items have "
                            "no compensation: what finished stays done")
        elif step.compensation is None:
            ends = "; its failure ends the saga" if step.ends_saga is not None else ""
            warnings.append(f"step {step.name} can fail ({failures}) and has no compensation: "
                            f"if a later step fails, what it did stays done{ends}")
    return warnings


def mermaid_flowchart(definition: SagaDefinition) -> tuple[str, list[str]]:
    """The definition as a Mermaid ``flowchart``, and the warnings of :func:`uncompensated`."""
    warnings = uncompensated(definition)
    lines = ["flowchart TD",
             f"  %% saga {printable(definition.name)}: {len(definition.stages)} stages",
             *(f"  %% warning: {printable(warning)}" for warning in warnings),
             f'  start(["{_label(definition.start.message_type)}"])']
    entries = [_entry(index, stage) for index, stage in enumerate(definition.stages)]
    entries.append("done")
    previous = "start"
    for index, stage in enumerate(definition.stages):
        box = f"stage{index}"
        lines += _stage(box, index, stage)
        if stage.gate is None:
            lines.append(f"  {previous} --> {box}")
        else:
            gate = entries[index]
            lines.append(f'  {gate}{{"{_label("gate " + stage.gate.name)}"}}')
            lines.append(f"  {previous} --> {gate}")
            lines.append(f"  {gate} -->|yes| {box}")
            if stage.gate.otherwise == "stop":
                lines.append(f'  {gate} -.->|"no: stop the saga"| stopped(["stopped: '
                             'completed early"])')
            else:
                lines.append(f"  {gate} -.->|no: skip| {entries[index + 1]}")
        previous = box
    lines.append(f"  {previous} --> done([completed])")
    flagged = [_id(step.name) for step in definition.steps_by_name.values()
               if step.failed and (isinstance(step, ForEach) or step.compensation is None)]
    if flagged:
        lines.append("  classDef uncompensated stroke:#c62828,stroke-width:3px")
        lines.append(f"  class {','.join(flagged)} uncompensated")
    return "\n".join(lines) + "\n", warnings


def _entry(index: int, stage: Stage) -> str:
    """Where the flow enters a stage: its gate, or the stage's box."""
    return f"gate{index}" if stage.gate is not None else f"stage{index}"


def _stage(box: str, index: int, stage: Stage) -> list[str]:
    title = stage.name or f"stage {index + 1}"
    # Without an explicit direction Mermaid lays a cluster out left to right, which
    # stacks parallel steps; top-down puts them side by side, each undo under its step.
    lines = [f'  subgraph {box}["{_label(title)}"]', "    direction TB"]
    for step in stage.steps:
        lines.append(f"    {_node(step)}")
        if isinstance(step, Step) and step.compensation is not None:
            undo = f"{_id(step.name)}_undo"
            done = _events("done", step.compensated)
            lines.append(f'    {undo}[/"undo {_label(step.name)}{done}"/]')
            lines.append(f"    {_id(step.name)} -.->|compensate| {undo}")
    lines.append("  end")
    return lines


def _node(step: Step | ForEach) -> str:
    # Each line is escaped on its own: the <br/> between them is the chart's markup.
    lines = [_label(step.name)]
    if isinstance(step, ForEach):
        lines.append(f"for each item, at most {step.concurrency} at once")
    text = _BREAK.join(lines) + _events("ok", step.succeeded) + _events("fails", step.failed)
    if isinstance(step, Step) and step.ends_saga is not None:
        text += f"{_BREAK}its failure ends the saga"
    if step.retry.attempts > 1:
        text += f"{_BREAK}{step.retry.attempts} tries"
    if step.timeout is not None:
        text += f"{_BREAK}timeout {step.timeout:g} s"
    shape = ('[["', '"]]') if isinstance(step, ForEach) else ('["', '"]')
    return f"{_id(step.name)}{shape[0]}{text}{shape[1]}"


_BREAK = "<br/>"


def _events(what: str, kinds: tuple[type, ...]) -> str:
    names = [_label(getattr(kind, "message_type", kind.__name__)) for kind in kinds]
    return f"{_BREAK}{what}: {', '.join(names)}" if names else ""


def _id(name: str) -> str:
    """A Mermaid node id for a step name (letters, digits and underscores only)."""
    return "step_" + re.sub(r"\W", "_", name)


def _label(text: str) -> str:
    """Text safe inside a quoted Mermaid label (see :func:`sagalog.events.mermaid_text`)."""
    return mermaid_text(text)
