"""OpenLineage run events of a pymescore job: START before it, COMPLETE or FAIL after, sent to a file and
optionally to a Marquez-compatible endpoint.

Each event is one JSON line appended to ``openlineage.jsonl`` (in the lake, or beside the output when a job
has no lake; ``PYMESCORE_OPENLINEAGE_FILE`` to choose) and, when ``PYMESCORE_OPENLINEAGE_URL`` is set, POSTed
to ``URL/api/v1/lineage``. Lineage never fails a job: an event that cannot be written or sent is logged and
the job goes on. Events carry paths, hashes, counts and versions, never a secret: database URLs lose their
user and password, an error message is cleaned of ``user:password@`` and of the endpoint's key.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymescore.lineage._datasets import Dataset
from pymescore.lineage._facets import RUN_EVENT_SCHEMA, facet, producer, version
from pymescore.storage import is_remote

if TYPE_CHECKING:
    from pymescore.config import Settings

log = logging.getLogger(__name__)

FILE_NAME = "openlineage.jsonl"
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


@dataclass(frozen=True)
class LineageConfig:
    """Where events go: the namespace of the jobs, an endpoint (Marquez: POST URL/api/v1/lineage) and its key,
    and a file that overrides the default one."""

    namespace: str = "pymescore"
    url: str | None = None
    api_key: str | None = None
    file: Path | None = None
    timeout_s: float = 5.0
    enabled: bool = True


def lineage_config(settings: Settings) -> LineageConfig:
    """The lineage configuration of the ``PYMESCORE_OPENLINEAGE_*`` settings."""
    return LineageConfig(namespace=settings.openlineage_namespace, url=settings.openlineage_url,
                         api_key=settings.openlineage_api_key, file=settings.openlineage_file)  # fmt: skip


def uuid7() -> str:
    """A time-ordered UUID (version 7, RFC 9562), as OpenLineage recommends for run ids."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # variant 10
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the source tree pymescore runs from, when it runs from a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5,
                              check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    sha = done.stdout.strip()
    return sha if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", sha) else None


def clean(text: str, config: LineageConfig) -> str:
    """``text`` without URL credentials or the endpoint's key."""
    text = _CREDENTIALS.sub("***@", text)
    return text.replace(config.api_key, "***") if config.api_key else text


def run_event(
    event_type: str,
    run_id: str,
    job: str,
    config: LineageConfig,
    inputs: list[Dataset],
    outputs: list[Dataset],
    error: str | None = None,
) -> dict[str, Any]:
    """One OpenLineage RunEvent as a dict."""
    run_facets = {
        "processing_engine": facet(
            "processing_engine", version=version(), name="pymescore", openlineageAdapterVersion=version()
        ),
        "pymescore_codeVersion": facet(
            "pymescore_codeVersion", version=version(), gitCommit=git_commit(), command=f"pymescore {job}"
        ),
    }
    if error is not None:
        run_facets["errorMessage"] = facet("errorMessage", message=clean(error, config), programmingLanguage="python")
    return {
        "eventType": event_type,
        "eventTime": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "producer": producer(),
        "schemaURL": RUN_EVENT_SCHEMA,
        "run": {"runId": run_id, "facets": run_facets},
        "job": {
            "namespace": config.namespace,
            "name": job,
            "facets": {"jobType": facet("jobType", processingType="BATCH", integration="PYMESCORE", jobType="COMMAND")},
        },
        "inputs": [d.as_input() for d in inputs],
        "outputs": [d.as_output() for d in outputs],
    }


def emit(event: dict[str, Any], config: LineageConfig, where: Path | str) -> None:
    """Append ``event`` to the events file and send it to the endpoint; a failure is logged, never raised.

    On object storage (a lake at ``s3://…``), which cannot append, each event is an object of its own:
    ``<where>/openlineage/<time>-<run id>-<type>.json``."""
    line = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
    if config.file is None and is_remote(where):
        _put_event(event, line, str(where))
    else:
        _append(event, line, config.file or Path(where) / FILE_NAME)
    if not config.url:
        return
    endpoint = config.url.rstrip("/") + "/api/v1/lineage"
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    request = urllib.request.Request(endpoint, data=line.rstrip("\n").encode("utf-8"), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=config.timeout_s) as answer:
            answer.read()
    except (
        Exception
    ) as exc:  # any failure to send (refused, timeout, 4xx/5xx, a bad URL) is the endpoint's, not the job's
        log.warning("OpenLineage: could not send the %s event to %s (%s)", event["eventType"], clean(endpoint, config),
                    clean(str(exc), config))  # fmt: skip


def _append(event: dict[str, Any], line: str, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))  # one write of one line: concurrent jobs never interleave lines
        finally:
            os.close(fd)
    except OSError as exc:
        log.warning("OpenLineage: could not append the %s event to %s (%s)", event["eventType"], path, exc)


def _put_event(event: dict[str, Any], line: str, where: str) -> None:
    from pymescore.storage import filesystem, join

    name = f"{event['eventTime'].replace(':', '')}-{event['run']['runId']}-{event['eventType']}.json"
    try:
        fs, path = filesystem(join(where, "openlineage", name))
        fs.pipe_file(path, line.encode("utf-8"))
    except Exception as exc:  # describing a run must never fail it
        log.warning("OpenLineage: could not write the %s event under %s (%s)", event["eventType"], where, exc)


def _datasets(what: str, get: Callable[[], list[Dataset]]) -> list[Dataset]:
    try:
        return get()
    except Exception as exc:  # describing a dataset must never fail the job it describes
        log.warning("OpenLineage: could not describe the %s (%s)", what, exc)
        return []


def _succeeded(exc: BaseException) -> bool:
    """typer/click's Exit(0) ends a command normally."""
    return getattr(exc, "exit_code", None) == 0 or (isinstance(exc, SystemExit) and exc.code in (0, None))


@contextmanager
def lineage_run(
    job: str,
    config: LineageConfig,
    where: Callable[[], Path | str],
    inputs: Callable[[], list[Dataset]],
    outputs: Callable[[], list[Dataset]],
) -> Iterator[str]:
    """Emit START, run the body, then COMPLETE (with the outputs as they are then) or FAIL (with the error's
    message) and re-raise. Yields the run id."""
    if not config.enabled:
        yield ""
        return
    run_id = uuid7()
    read = _datasets("inputs", inputs)
    emit(run_event("START", run_id, job, config, read, []), config, where())
    try:
        yield run_id
    except BaseException as exc:
        if _succeeded(exc):
            emit(run_event("COMPLETE", run_id, job, config, read, _datasets("outputs", outputs)), config, where())
        else:
            code = getattr(exc, "code", None)
            if hasattr(exc, "exit_code"):  # the command chose its exit code (monitor --fail-on-act)
                text = f"the command ended with exit code {exc.exit_code}"
            elif isinstance(code, str) and hasattr(exc, "message"):  # a PymescoreError
                text = f"[{code}] {exc.message}"
            else:
                text = f"{type(exc).__name__}: {exc}"
            emit(run_event("FAIL", run_id, job, config, read, [], error=text), config, where())
        raise
    emit(run_event("COMPLETE", run_id, job, config, read, _datasets("outputs", outputs)), config, where())
