"""The scoring service: FastAPI app, audit store, decision policy, API keys, metrics.

``create_app(build_state(settings))`` builds one worker's app; ``pymescore serve`` runs it under uvicorn.
"""

from pymescore.decision import Policy, load_policy
from pymescore.service._app import app_from_env, build_state, create_app
from pymescore.service._heap import settle_heap
from pymescore.service._idempotency import fingerprint
from pymescore.service._samples import application_bodies, wait_until_ready
from pymescore.service._schemas import ScoreRequest
from pymescore.service._scorer import ApplicationInvalidError, Scored, Scorer
from pymescore.service._shadow import shadow_pairs
from pymescore.service._state import ServiceState
from pymescore.service._store import AuditStore, StoreUnavailableError

__all__ = [
    "ApplicationInvalidError",
    "AuditStore",
    "Policy",
    "ScoreRequest",
    "Scored",
    "Scorer",
    "ServiceState",
    "StoreUnavailableError",
    "app_from_env",
    "application_bodies",
    "build_state",
    "create_app",
    "fingerprint",
    "load_policy",
    "settle_heap",
    "shadow_pairs",
    "wait_until_ready",
]
