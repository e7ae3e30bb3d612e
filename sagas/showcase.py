"""Scratch copies of the example workflows for the main job (``python run.py``).

The showcase must run on a fresh machine without touching the examples in the tree,
so each workflow's example is copied under ``<db>.showcase/`` and its configuration
points there. The data pipeline gets a second, broken source set, so its second run
shows the collector failing, the rollback to the backup, and a partial success.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from sagalog.events import SagalogError

__all__ = ["EXAMPLES", "Showcase", "prepare_showcase"]

EXAMPLES = Path(__file__).absolute().parent.parent / "examples"  # not resolve(): see below
"""The example configurations and data: ``docs/examples`` in the tree, installed beside the
packages as ``sagalog/examples`` (see setup.py). An editable install links each module to the
tree, so resolving ``__file__`` would leave the installed package for the tree's root."""


@dataclass(frozen=True)
class Showcase:
    """Where each workflow's scratch copy and configuration are."""

    root: Path
    jobs_config: Path
    job_files: tuple[Path, ...]
    pipeline_config: Path
    master_config: Path
    etl_config: Path
    etl_site: Path

    def break_pipeline_source(self) -> None:
        """Make one source fail its schema: the next run's collector fails and rolls back."""
        config = json.loads(self.pipeline_config.read_text(encoding="utf-8"))
        source = self.pipeline_config.parent / config["dynamic_db_source_dir"]
        with (source / "purchaseOrders.csv").open("a", encoding="utf-8") as handle:
            handle.write("IM1902999,not-a-date,10236M,many\n")


def prepare_showcase(db: str | Path) -> Showcase:
    """Fresh scratch copies of the examples beside ``db``.

    Raises:
        SagalogError: the examples are not there (an installed copy without the tree).

    """
    if not EXAMPLES.is_dir():
        msg = f"{EXAMPLES}: the examples are missing; reinstall sagalog (pip install sagalog)"
        raise SagalogError(msg)
    root = Path(f"{db}.showcase")
    if root.exists():
        shutil.rmtree(root)
    for name in ("jobs", "pipeline", "master", "etl"):
        shutil.copytree(EXAMPLES / name, root / name,
                        ignore=shutil.ignore_patterns("work", "build", "*.db"))
    etl = json.loads((root / "etl" / "sources.json").read_text(encoding="utf-8"))
    etl.update(download_dir="downloads", quarantine_dir="quarantine")
    (root / "etl" / "sources.json").write_text(json.dumps(etl, indent=2), encoding="utf-8")
    jobs = root / "jobs"
    return Showcase(
        root=root,
        jobs_config=jobs / "config.json",
        job_files=tuple(sorted(path for path in jobs.glob("*.json") if path.name != "config.json")),
        pipeline_config=root / "pipeline" / "config.json",
        master_config=root / "master" / "master.json",
        etl_config=root / "etl" / "sources.json",
        etl_site=root / "etl" / "site",
    )
