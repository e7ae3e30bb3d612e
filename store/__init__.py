"""The append-only event store: the contract, the SQLite backend, checkpoints, subscriptions.

The names below are imported when first used (see :mod:`sagalog.events._logging` and
:mod:`sagalog.events._lazy`): ``list`` and ``tail`` read the log through
:func:`read_only_uri` alone, and importing the whole store with it (aiosqlite, loguru,
the append models) cost 0.22-0.29 s, where ``list`` takes 0.07 s in all. The modules
that log import :mod:`sagalog.events._logging` themselves, so sagalog stays silent until
the application turns its logs on, whichever name is read first.
"""

from typing import TYPE_CHECKING

from sagalog.events._lazy import lazy_names

if TYPE_CHECKING:
    from sagalog.store._append import AppendRequest, Checkpoint
    from sagalog.store._async import AsyncEventStore
    from sagalog.store._blocking import SyncSubscription
    from sagalog.store._contract import (
        EventStoreProtocol,
        LogReaderProtocol,
        RawRecord,
        RunFacts,
        RunPage,
        RunQuery,
        RunStatusHook,
        SubscriptionProtocol,
    )
    from sagalog.store._errors import (
        CorruptDatabaseError,
        DatabaseError,
        DiskFullError,
        EventIdConflictError,
        InvalidStreamIdError,
        NotADatabaseError,
        ReadOnlyLogError,
        ReadOnlyStoreError,
        SchemaVersionError,
        StorageFaultError,
        StorageIOError,
        StoreClosedError,
        StoreError,
        UnreadableLogError,
        WorkerBusyError,
        WrongExpectedPositionError,
        WrongExpectedVersionError,
    )
    from sagalog.store._expected import (
        ANY,
        NO_STREAM,
        STREAM_EXISTS,
        ExpectedVersion,
        StreamState,
    )
    from sagalog.store._factory import Durability, open_store, parse_target
    from sagalog.store._faults import storage_fault
    from sagalog.store._ids import MAX_ID_LENGTH
    from sagalog.store._subscription import Subscription
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
    from sagalog.store.memory import MemoryEventStore
    from sagalog.store.sqlite import SqliteEventStore
    from sagalog.store.sqlite._access import check_writable, read_only_uri
    from sagalog.store.sqlite._schema import SCHEMA_VERSION
    from sagalog.store.sqlite._writer import WriterStats

__all__ = [
    "ANY",
    "MAX_ID_LENGTH",
    "NO_STREAM",
    "SCHEMA_VERSION",
    "STREAM_EXISTS",
    "AppendRequest",
    "AsyncEventStore",
    "Checkpoint",
    "CorruptDatabaseError",
    "DatabaseError",
    "DiskFullError",
    "Durability",
    "EventIdConflictError",
    "EventStoreProtocol",
    "ExpectedVersion",
    "ImportFileError",
    "ImportLine",
    "ImportResult",
    "InvalidStreamIdError",
    "LogReaderProtocol",
    "MemoryEventStore",
    "NotADatabaseError",
    "RawRecord",
    "ReadOnlyLogError",
    "ReadOnlyStoreError",
    "RunFacts",
    "RunPage",
    "RunQuery",
    "RunStatusHook",
    "SchemaVersionError",
    "SqliteEventStore",
    "StorageFaultError",
    "StorageIOError",
    "StoreClosedError",
    "StoreError",
    "StreamState",
    "Subscription",
    "SubscriptionProtocol",
    "SyncSubscription",
    "UnreadableLogError",
    "VerifyReport",
    "WorkerBusyError",
    "WriterStats",
    "WrongExpectedPositionError",
    "WrongExpectedVersionError",
    "check_writable",
    "export_lines",
    "import_file",
    "import_lines",
    "json_lines",
    "open_store",
    "parse_lines",
    "parse_target",
    "read_only_uri",
    "storage_fault",
]

if not TYPE_CHECKING:  # type checkers read the imports above, and see no __getattr__
    __getattr__ = lazy_names(__name__, {
        "_async": ("AsyncEventStore",),
        "sqlite._access": ("check_writable", "read_only_uri"),
        "_append": ("AppendRequest", "Checkpoint"),
        "_blocking": ("SyncSubscription",),
        "_contract": ("EventStoreProtocol", "LogReaderProtocol", "RawRecord", "RunFacts",
                      "RunPage", "RunQuery", "RunStatusHook", "SubscriptionProtocol"),
        "_factory": ("Durability", "open_store", "parse_target"),
        "_errors": ("CorruptDatabaseError", "DatabaseError", "DiskFullError",
                    "EventIdConflictError", "InvalidStreamIdError", "NotADatabaseError",
                    "ReadOnlyLogError", "ReadOnlyStoreError", "SchemaVersionError",
                    "StorageFaultError", "StorageIOError", "StoreClosedError",
                    "StoreError", "UnreadableLogError", "WorkerBusyError",
                    "WrongExpectedPositionError", "WrongExpectedVersionError"),
        "_faults": ("storage_fault",),
        "_expected": ("ANY", "NO_STREAM", "STREAM_EXISTS", "ExpectedVersion", "StreamState"),
        "_ids": ("MAX_ID_LENGTH",),
        "sqlite._schema": ("SCHEMA_VERSION",),
        "memory": ("MemoryEventStore",),
        "sqlite": ("SqliteEventStore",),
        "_subscription": ("Subscription",),
        "_transfer": ("ImportFileError", "ImportLine", "ImportResult", "export_lines",
                      "import_file", "import_lines", "json_lines", "parse_lines"),
        "_verify": ("VerifyReport",),
        "sqlite._writer": ("WriterStats",),
    })
