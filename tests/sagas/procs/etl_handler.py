"""One handler of ETL download commands, run as a process: two of them handle the same ones.

``etl_handler.py COMMANDS.json`` reads a list of ``DownloadSource`` commands (as JSON)
and handles each as the service actors do: the download, then the validation gate under
the source's lock. It prints one JSON line per command: the source, the download's
result type, and the validation's result type and reason, or the exception a handler
raised (an actor would crash and retry; here it is reported and the next command runs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(commands_file: str) -> int:
    """Handle every command of the file in order; print what each ended as."""
    from sagalog.actors._etl_http import download  # (imported here: after sys.path is set)
    from sagalog.actors.etl import validate_locked
    from sagalog.events.etl import Downloaded, DownloadSource, Quarantined, ValidateFile

    spec = json.loads(Path(commands_file).read_text())
    for raw in spec["commands"]:
        command = DownloadSource.model_validate(raw)
        line: dict[str, object] = {"source": command.source_id}
        try:
            result = download(command)
            line["download"] = type(result).__name__
            if isinstance(result, Downloaded):
                verdict = validate_locked(ValidateFile(
                    run_id=command.run_id, source_id=command.source_id, path=result.path,
                    expected_format=command.expected_format, sha256=result.sha256,
                    expected_sha256=None, quarantine_dir=spec["quarantine_dir"]))
                line["validate"] = type(verdict).__name__
                if isinstance(verdict, Quarantined):
                    line["reason"] = verdict.reason
            else:
                line["reason"] = result.error
        except Exception as error:  # reported to the test, as a crash
            line["crash"] = f"{type(error).__name__}: {error}"
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
