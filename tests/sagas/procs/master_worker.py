"""The master pipeline's test setup, and a worker a crash test runs as a subprocess.

``write_config(folder, ...)`` copies the example dataset of docs/examples/master into
``folder`` and writes a configuration there, with the given parts replaced. Run as a
script (``master_worker.py DB CONFIG``), it runs the pipeline on the system clock, or
(``master_worker.py DB --resume``) finishes the runs in flight.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "master"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def example_config() -> dict[str, Any]:
    """The example configuration, parsed."""
    return json.loads((EXAMPLE / "master.json").read_text())


def write_config(folder: Path, *, stages: dict[str, dict[str, Any]] | None = None,
                 **top: Any) -> Path:
    """Copy the example data into ``folder``; write ``master.json`` with changes; its path.

    ``stages`` merges into each named stage's settings; ``top`` replaces top-level keys.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("data", "models"):
        if not (folder / part).exists():
            shutil.copytree(EXAMPLE / part, folder / part)
    config = copy.deepcopy(example_config())
    for name, changes in (stages or {}).items():
        config["stages"][name] = {**config["stages"][name], **changes}
    config.update(top)
    path = folder / "master.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def hanging(action_name: str) -> dict[str, Any]:
    """The built-in ``action_name``, hanging once its effect is committed (a kill lands there)."""
    from sagalog.actors.master import BUILTIN_ACTIONS  # (imported here: after sys.path is set)

    builtin = BUILTIN_ACTIONS[action_name]

    def action(command: Any, context: Any) -> dict[str, Any]:
        details = builtin(command, context)
        context.scope.after_commit(lambda: time.sleep(3600))
        return details

    return {action_name: action}


def main(argv: list[str]) -> int:
    """``DB CONFIG [--hang-after ACTION]`` runs the pipeline; ``DB --resume`` finishes it."""
    from sagalog.actors import Runtime  # (imported here: after sys.path is set)
    from sagalog.sagas.master import resume_master, run_master_pipeline

    db, what = argv[0], argv[1]
    actions = hanging(argv[3]) if argv[2:3] == ["--hang-after"] else None
    with Runtime(db) as runtime:
        if what == "--resume":
            outcome = resume_master(runtime, timeout=60)
            print(json.dumps(outcome), flush=True)  # noqa: T201 - the parent reads it
        else:
            summary = run_master_pipeline(runtime, what, actions=actions, timeout=60)
            print(summary.status, flush=True)  # noqa: T201 - the parent reads it
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
