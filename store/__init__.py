"""The append-only event store: the contract, the SQLite backend, checkpoints, subscriptions."""

# Imported first, before any module that logs: sagalog stays quiet until the application
# turns its logs on (see sagalog.events._logging).
import sagalog.events._logging  # noqa: F401  # isort: skip

from sagalog.store._append import AppendRequest, Checkpoint
from sagalog.store._blocking import SyncSubscription
from sagalog.store._errors import (
    CorruptDatabaseError,
    DatabaseError,
    EventIdConflictError,
    InvalidStreamIdError,
    NotADatabaseError,
    ReadOnlyStoreError,
    SchemaVersionError,
    StoreClosedError,
    StoreError,
    WrongExpectedVersionError,
)
from sagalog.store._expected import ANY, NO_STREAM, STREAM_EXISTS, ExpectedVersion, StreamState
from sagalog.store._ids import MAX_ID_LENGTH
from sagalog.store._schema import SCHEMA_VERSION
from sagalog.store._sqlite import Durability, SqliteEventStore
from sagalog.store._subscription import Subscription
from sagalog.store._sync import SyncEventStore
from sagalog.store._transfer import (
    ImportFileError,
    ImportLine,
    ImportResult,
    export_lines,
    import_file,
    import_lines,
    json_lines,
    parse_lines,
)
from sagalog.store._verify import VerifyReport
from sagalog.store._writer import WriterStats

__all__ = [
    "ANY",
    "MAX_ID_LENGTH",
    "NO_STREAM",
    "SCHEMA_VERSION",
    "STREAM_EXISTS",
    "AppendRequest",
    "Checkpoint",
    "CorruptDatabaseError",
    "DatabaseError",
    "Durability",
    "EventIdConflictError",
    "ExpectedVersion",
    "ImportFileError",
    "ImportLine",
    "ImportResult",
    "InvalidStreamIdError",
    "NotADatabaseError",
    "ReadOnlyStoreError",
    "SchemaVersionError",
    "SqliteEventStore",
    "StoreClosedError",
    "StoreError",
    "StreamState",
    "Subscription",
    "SyncEventStore",
    "SyncSubscription",
    "VerifyReport",
    "WriterStats",
    "WrongExpectedVersionError",
    "export_lines",
    "import_file",
    "import_lines",
    "json_lines",
    "parse_lines",
]
