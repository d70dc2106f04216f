"""Authentication: a bearer API key names a principal (tenant and scopes); each route needs one scope.

Before the key is looked up, the abuse limits (``_limits``): a client address or a key id with too many failed
authentications in the last minute, or too many requests, gets 429 with ``Retry-After`` and is not looked up.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Header, Request

from pymescore.service._limits import Buckets, retry_after
from pymescore.service._problems import ProblemError
from pymescore.service._state import ServiceState
from pymescore.service._store import Principal

LIMITED = {
    "auth_client": "too many failed authentications from this address / demasiadas autenticaciones fallidas "
    "desde esta dirección",
    "auth_key": "too many failed authentications with this key id / demasiadas autenticaciones fallidas con "
    "este identificador de clave",
    "client": "too many requests from this address / demasiadas solicitudes desde esta dirección",
    "key": "too many requests with this API key / demasiadas solicitudes con esta clave",
}


def needs(state: ServiceState, scope: str) -> Callable[..., Awaitable[Principal]]:
    """The dependency of a route that needs ``scope``: the key's principal, else 401 (no or unknown key),
    403 (the key lacks the scope) or 429 (an abuse limit)."""
    limits = state.limits

    def refuse(limit: str, seconds: float) -> ProblemError:
        state.metrics.limited.labels(limit).inc()
        return ProblemError(429, f"{LIMITED[limit]}; retry after {retry_after(seconds)} s", code="RATE_LIMITED",
                            headers={"Retry-After": retry_after(seconds)})  # fmt: skip

    def check_limit(buckets: Buckets, key: str, limit: str, take: bool) -> None:
        seconds = buckets.take(key) if take else buckets.wait(key)
        if seconds > 0:
            raise refuse(limit, seconds)

    def failed(client: str, key_id: str | None) -> None:
        state.metrics.auth_failures.inc()
        limits.auth_failures_client.take(client)
        if key_id is not None:
            limits.auth_failures_key.take(key_id)

    async def check(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
        challenge = {"WWW-Authenticate": 'Bearer realm="pymescore"'}
        client = request.client.host if request.client is not None else "unknown"
        check_limit(limits.requests_client, client, "client", take=True)
        check_limit(limits.auth_failures_client, client, "auth_client", take=False)
        if not authorization or not authorization.lower().startswith("bearer ") or len(authorization) > 512:
            failed(client, None)
            got = "none" if not authorization else f"a {authorization.split(' ', 1)[0][:20]} credential"
            raise ProblemError(401, f"expected 'Authorization: Bearer <API key>', got {got}", code="AUTH_MISSING",
                               headers=challenge)  # fmt: skip
        key = authorization[7:].strip()
        key_id = _key_id(key)
        if key_id is not None:
            check_limit(limits.auth_failures_key, key_id, "auth_key", take=False)
        principal = await state.store_call(lambda: state.store.authenticate(key))
        if principal is None:
            failed(client, key_id)
            raise ProblemError(401, "the API key is unknown or revoked", code="AUTH_INVALID", headers=challenge)
        check_limit(limits.requests_key, principal.key_id, "key", take=True)
        # a regulator reads as a tenant that owns nothing: any decision by id is 404, never a 403 that confirms it
        if scope not in principal.scopes and not (scope == "read" and "regulator" in principal.scopes):
            raise ProblemError(403, f"this route needs the scope '{scope}'; the key has "
                               f"{', '.join(sorted(principal.scopes))}", code="SCOPE_MISSING")  # fmt: skip
        request.state.tenant = principal.tenant
        return principal

    return check


def _key_id(key: str) -> str | None:
    """The id part of a ``pms_<id>_<secret>`` key (8 hex digits), else None."""
    parts = key.split("_", 2)
    if len(parts) == 3 and parts[0] == "pms" and len(parts[1]) == 8 and all(c in "0123456789abcdef" for c in parts[1]):
        return parts[1]
    return None
