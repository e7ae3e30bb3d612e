"""A data pipeline adapter run as a subprocess, for the crash and concurrency tests.

``pipeline_adapter.py CONFIG collect|load KEY [--hang-after-record]`` builds the command of
the pipeline configuration ``CONFIG`` (run id ``r``), hands it to the real adapter under the
idempotency key ``KEY`` and prints the result's status. With ``--hang-after-record`` (load
only) the loader prints ``recorded`` once its ``load_history`` row is committed and hangs
there, before it removes its ``.loading`` marker: the parent SIGKILLs it at that point.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str]) -> int:
    """Run one adapter call; see the module docstring for the arguments."""
    # (imported here: after sys.path is set)
    from sagalog.actors._pipeline_loader import _Run
    from sagalog.actors.pipeline import DataCollector, DataLoader, load_pipeline_config
    from sagalog.events.pipeline import CollectData, LoadData, LoaderFinished

    config = load_pipeline_config(argv[0])
    phase, key = argv[1], argv[2]

    class HangingLoader(DataLoader):
        """The real loader, stopped dead once its load is recorded (the kill lands there)."""

        def _record(self, run: _Run, connection: sqlite3.Connection) -> LoaderFinished:
            result = super()._record(run, connection)
            print("recorded", flush=True)  # noqa: T201 - the parent reads it
            time.sleep(3600)  # the parent SIGKILLs the process here
            return result

    if phase == "collect":
        status = DataCollector().collect(CollectData(run_id="r", config=config), key).status
    else:
        loader = HangingLoader() if "--hang-after-record" in argv else DataLoader()
        status = loader.load(LoadData(run_id="r", config=config), key).status
    print(status, flush=True)  # noqa: T201 - the parent reads it
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
