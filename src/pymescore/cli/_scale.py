"""The options of the commands that can run on a Dask cluster (``--scheduler``, ``--worker-memory``)."""

from __future__ import annotations

from typing import Annotated

import typer

SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        envvar="PYMESCORE_DASK_SCHEDULER",
        help="Where the work runs: unset = this process; local[:N] = a Dask LocalCluster of N worker processes "
        "(default 2); tcp://host:port = an existing Dask cluster (pip install 'pymescore[dask]'). "
        "Env: PYMESCORE_DASK_SCHEDULER.",
        show_default=False,
    ),
]
WorkerMemoryOpt = Annotated[
    str | None,
    typer.Option(
        "--worker-memory",
        envvar="PYMESCORE_DASK_WORKER_MEMORY",
        help="Memory limit of each local:N worker, e.g. 6GiB (default: 80% of this machine's memory shared "
        "between the workers). Env: PYMESCORE_DASK_WORKER_MEMORY.",
        show_default=False,
    ),
]


def quiet_dask() -> None:
    """Dask's own INFO lines (scheduler and worker start and stop) off the command's output; warnings stay."""
    import logging

    for name in ("distributed", "dask"):
        logging.getLogger(name).setLevel(logging.WARNING)
