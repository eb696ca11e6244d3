"""Exceptions: ParaseekError and one subclass per failure, each message fit for one line."""

from __future__ import annotations


class ParaseekError(Exception):
    """Base class of every error paraseek raises on purpose."""


class EmptyQueryError(ParaseekError):
    """A query was empty or only whitespace."""


class InvalidArgumentError(ParaseekError):
    """An argument (k, a mode, a count) is out of its valid range."""


class SourceNotFoundError(ParaseekError):
    """A file or folder given to index does not exist."""


class NoDocumentsError(ParaseekError):
    """Nothing readable was found in the paths given to index."""


class IndexNotFoundError(ParaseekError):
    """The index directory does not exist or holds no index."""


class IndexFormatError(ParaseekError):
    """The index on disk is damaged or was written by an incompatible version."""


class IndexLockedError(ParaseekError):
    """Another process is writing to the index."""


class ModelMismatchError(ParaseekError):
    """The index was built with a different embedding model than the one asked for."""


class ModelLoadError(ParaseekError):
    """The embedding model could not be loaded."""


class UnknownPassageError(ParaseekError):
    """A passage id is not in the index."""


class UnknownDocumentError(ParaseekError):
    """A document id, name or path is not in the index."""


class UnknownAuthorError(ParaseekError):
    """No document in the index (or among those chosen) is by the author asked for."""


class RuntimeUnavailableError(ParaseekError):
    """A faster embedding runtime cannot serve this model here; auto falls back to fp32."""


class DeviceUnavailableError(ParaseekError):
    """The device asked for (--device cuda) cannot be used here."""


class StoreMismatchError(ParaseekError):
    """The index keeps its vectors in another store than the one asked for."""


class StoreUnavailableError(ParaseekError):
    """The vector store (a Milvus server or Milvus Lite file) cannot be opened or reached."""


class StoreLockedError(StoreUnavailableError):
    """A Milvus Lite file is open in another process (Milvus Lite allows one per file)."""


class ExecutorUnavailableError(ParaseekError):
    """The executor asked for needs a package that is not installed (Ray: paraseek[scale])."""


class RayConnectionError(ParaseekError):
    """The Ray cluster at the address given cannot be reached or joined."""


class RayWorkerMismatchError(ParaseekError):
    """A Ray worker cannot embed as this machine does: another model runtime, or unseen files."""


class RayExecutionError(ParaseekError):
    """The Ray pipeline failed while reading, splitting or embedding."""


class StorageError(ParaseekError):
    """The file system refused a read or write: disk full, read-only, no permission, or a file
    where a folder belongs (or the reverse)."""


class InvalidTextError(InvalidArgumentError):
    """A query or name given on the command line or standard input is not valid UTF-8."""
