"""Prometheus metrics of the service; correct with several uvicorn workers (multiprocess mode).

With ``PROMETHEUS_MULTIPROC_DIR`` set (``pymescore serve`` sets it before the workers start), every
worker writes its values to that folder and ``/metrics`` aggregates them; without it (tests, one
process) the metrics live in the app's own registry.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

SCORE_BUCKETS = tuple(float(x) for x in range(300, 851, 25))
PD_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0)
#: a scoring request's stages: milliseconds when all is well, up to the store's timeout (1.5 s) when it is not
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 5.0)


def public_source(source: str) -> str:
    """What ``/metrics`` may say about where the model came from: a registry URI (``models:/name@alias``) as such,
    a folder only as ``bundle`` (a file path tells an outsider how the host is laid out)."""
    return source if source.startswith(("models:/", "runs:/")) else "bundle"


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "pymescore_http_requests", "HTTP requests by route, method and status", ["route", "method", "status"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "pymescore_http_request_duration_seconds", "Request latency by route", ["route"], buckets=LATENCY_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.stages = Histogram(
            "pymescore_scoring_stage_duration_seconds", "Scoring requests' stages: score (features, model, reasons, "
            "decision) and audit (the decisions written and committed), by route", ["route", "stage"],
            buckets=STAGE_BUCKETS, registry=r,
        )  # fmt: skip
        self.in_flight = Gauge(
            "pymescore_http_requests_in_flight", "Requests being served", registry=r, multiprocess_mode="livesum"
        )
        self.decisions = Counter("pymescore_decisions", "Decisions by outcome", ["decision"], registry=r)
        self.score = Histogram("pymescore_score", "Scores given", buckets=SCORE_BUCKETS, registry=r)
        self.pd = Histogram("pymescore_pd", "Probabilities of default given", buckets=PD_BUCKETS, registry=r)
        self.model_info = Gauge(
            "pymescore_model_info", "The model being served (value 1)", ["version", "source", "policy_version"],
            registry=r, multiprocess_mode="livemax",  # no pid label: 1 while some worker serves it
        )  # fmt: skip
        self.model_loaded = Gauge(
            "pymescore_model_loaded", "1 when a verified model is loaded", registry=r, multiprocess_mode="livemin"
        )
        self.audit_failures = Counter(
            "pymescore_audit_write_failures", "Decisions not stored (the client got 503)", registry=r
        )
        self.overdue_reason_requests = Gauge(
            "pymescore_reason_requests_overdue", "Denial-reason requests past their 7-working-day deadline",
            registry=r, multiprocess_mode="max",
        )  # fmt: skip
        self.limited = Counter(
            "pymescore_rate_limited", "Requests refused with 429 by limit (auth_client, auth_key, client, key)",
            ["limit"], registry=r,
        )  # fmt: skip
        self.auth_failures = Counter("pymescore_auth_failures", "Failed authentications (401)", registry=r)
        self.body_timeouts = Counter("pymescore_body_timeouts", "Request bodies not received in time (408)", registry=r)
        self.shadow_dropped = Counter(
            "pymescore_shadow_dropped", "Applications the shadow challenger did not score (its queue was full)",
            registry=r,
        )  # fmt: skip
        self.shadow_failures = Counter(
            "pymescore_shadow_failures", "Shadow challenger failures by stage (load, score, refused, store)",
            ["stage"], registry=r,
        )  # fmt: skip
        self.shadow_decisions = Counter(
            "pymescore_shadow_decisions", "Challenger decisions stored in the shadow of the champion's", registry=r
        )
        self.shadow_model = Gauge(
            "pymescore_shadow_model_info", "The shadow challenger loaded (value 1)", ["version"], registry=r,
            multiprocess_mode="livemax",
        )  # fmt: skip
        self._shadow_version: str | None = None
        self._model_labels: tuple[str, str, str] | None = None
        self.reloads = Counter("pymescore_model_reloads", "Model reload attempts by outcome", ["outcome"], registry=r)

    def set_model(self, version: str, source: str, policy_version: str) -> None:
        source = public_source(source)
        if self._model_labels is not None:  # the previous model: 0 (clearing is not multiprocess-safe)
            self.model_info.labels(*self._model_labels).set(0)
        self._model_labels = (version, source, policy_version)
        self.model_info.labels(version, source, policy_version).set(1)
        self.model_loaded.set(1)

    def shadow_info(self, version: str) -> None:
        if self._shadow_version is not None:
            self.shadow_model.labels(self._shadow_version).set(0)
        self._shadow_version = version
        self.shadow_model.labels(version).set(1)

    def render(self) -> bytes:
        # multiprocess only when the values really go to files: prometheus_client chooses that when it is
        # first imported, so a folder named later would be read while the values stay in memory
        from prometheus_client import values

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and values.ValueClass.__name__ == "MmapedValue":
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


def serve_metrics(host: str, port: int) -> None:
    """``/metrics`` of every worker on its own port, in a thread of this process (``PYMESCORE_METRICS_PORT``): the
    API's port then has none, and the metrics port can stay inside the cluster."""
    from prometheus_client import multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, addr=host, registry=registry)
