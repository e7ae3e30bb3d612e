"""The append-only event store: the contract, the SQLite backend, checkpoints, subscriptions."""

from loguru import logger

from store._append import AppendRequest, Checkpoint
from store._blocking import SyncSubscription
from store._errors import (
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
from store._expected import ANY, NO_STREAM, STREAM_EXISTS, ExpectedVersion, StreamState
from store._ids import MAX_ID_LENGTH
from store._schema import SCHEMA_VERSION
from store._sqlite import Durability, SqliteEventStore
from store._subscription import Subscription
from store._sync import SyncEventStore
from store._transfer import ImportFileError, ImportLine, export_lines, import_lines, parse_lines
from store._verify import VerifyReport
from store._writer import WriterStats

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
    "import_lines",
    "parse_lines",
]

# A library adds no sink and stays quiet until the application opts in: see README "Logging".
logger.disable("store")
