"""The Parquet lake: versioned tables, atomic writes, lineage records; a local folder or object storage.

Layout::

    LAKE/_manifest.json                  which version of each table is current (the commit point)
    LAKE/<table>/v000003/data.parquet     accepted rows
    LAKE/<table>/v000003/data/b00007.parquet  (a bucketed lake) the accepted rows of the firms in RUC bucket 7
    LAKE/<table>/v000003/quarantine.parquet  rejected rows: source values + reason per row
    LAKE/<table>/v000003/lineage.json    every ingest that led to this version, newest last
    LAKE/<table>/v000003/_<name>.parquet  a source's own state committed with the data (an API source's
                                         transaction ledger), carried into later versions until replaced

A local write builds the new version in a temporary folder, renames it into place, then replaces the manifest
with ``os.replace``: a crash or an error at any point leaves the lake as it was (a half-built folder is never
referenced and is swept on the next write). Writers take a file lock on the lake.

On object storage (``s3://bucket/lake``) there is no rename: a version is written under a prefix of its own
(``v000003-<random>``), and the manifest object, one PUT written after every other object, is the commit point.
A writer killed before it leaves a prefix that no manifest names (never read, swept by the next writer); readers
see the old manifest or the new one. Writers take a lock object created only if absent.

A bucketed lake (``Lake(root, buckets=n)``, ``pymescore ingest-folder --buckets n``, ``pymescore lake migrate``)
spreads each RUC-keyed table over n files by ``crc32(ruc) % n``, so a worker of a distributed job reads only its
firms' rows (:meth:`Lake.read_bucket`); readers of the whole table see every bucket.
"""

from pymescore.lake._buckets import bucket_of
from pymescore.lake._lake import KEEP_VERSIONS, MAX_BUCKETS, Lake, TableVersion

__all__ = ["KEEP_VERSIONS", "MAX_BUCKETS", "Lake", "TableVersion", "bucket_of"]
