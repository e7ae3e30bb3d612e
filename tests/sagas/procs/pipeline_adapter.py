"""A data pipeline adapter run as a subprocess, for the crash and concurrency tests.

``pipeline_adapter.py CONFIG collect|load KEY [--pause-inside | --hang-after-record]``
builds the command of the pipeline configuration ``CONFIG`` (run id ``r``), hands it to
the real adapter under the idempotency key ``KEY`` and prints ``result`` and the result
as JSON. sagalog's log lines go to stdout too (a waiting handler says so there).

- ``--pause-inside``: once the adapter made its first change (the collector its backup,
  the loader its backup and marker), print ``inside`` and wait for a line on stdin;
- ``--hang-after-record`` (load only): once the load's ``load_history`` row is committed,
  print ``recorded`` and hang, before the ``.loading`` marker is removed: the parent
  SIGKILLs the process there.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pause() -> None:
    """Say ``inside`` and wait until the parent writes a line (or closes stdin)."""
    print("inside", flush=True)  # noqa: T201 - the parent reads it
    sys.stdin.readline()


def main(argv: list[str]) -> int:
    """Run one adapter call; see the module docstring for the arguments."""
    # (imported here: after sys.path is set)
    from sagalog.actors._pipeline_collector import _Run as _CollectRun
    from sagalog.actors._pipeline_loader import _Run as _LoadRun
    from sagalog.actors.pipeline import DataCollector, DataLoader, load_pipeline_config
    from sagalog.events import enable_logging
    from sagalog.events.pipeline import CollectData, LoadData, LoaderFinished

    class PausingCollector(DataCollector):
        def _back_up(self, run: _CollectRun) -> None:
            super()._back_up(run)
            pause()

    class PausingLoader(DataLoader):
        def _prepare(self, run: _LoadRun) -> None:
            super()._prepare(run)
            pause()

    class HangingLoader(DataLoader):
        """The real loader, stopped dead once its load is recorded (the kill lands there)."""

        def _record(self, run: _LoadRun, connection: sqlite3.Connection) -> LoaderFinished:
            result = super()._record(run, connection)
            print("recorded", flush=True)  # noqa: T201 - the parent reads it
            time.sleep(3600)  # the parent SIGKILLs the process here
            return result

    enable_logging(sys.stdout)
    config = load_pipeline_config(argv[0])
    phase, key, option = argv[1], argv[2], argv[3] if len(argv) > 3 else ""
    if phase == "collect":
        collector = PausingCollector() if option == "--pause-inside" else DataCollector()
        result = collector.collect(CollectData(run_id="r", config=config), key)
    else:
        loader = {"--pause-inside": PausingLoader, "--hang-after-record": HangingLoader}.get(
            option, DataLoader)()
        result = loader.load(LoadData(run_id="r", config=config), key)
    print("result", result.model_dump_json(), flush=True)  # noqa: T201 - the parent reads it
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
