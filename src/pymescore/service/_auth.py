"""Authentication: a bearer API key names a principal (tenant and scopes); each route needs one scope."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Header, Request

from pymescore.service._problems import ProblemError
from pymescore.service._state import ServiceState
from pymescore.service._store import Principal


def needs(state: ServiceState, scope: str) -> Callable[..., Awaitable[Principal]]:
    """The dependency of a route that needs ``scope``: the key's principal, else 401 (no or unknown key) or
    403 (the key lacks the scope)."""

    async def check(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
        challenge = {"WWW-Authenticate": 'Bearer realm="pymescore"'}
        if not authorization or not authorization.lower().startswith("bearer ") or len(authorization) > 512:
            got = "none" if not authorization else f"a {authorization.split(' ', 1)[0][:20]} credential"
            raise ProblemError(401, f"expected 'Authorization: Bearer <API key>', got {got}", code="AUTH_MISSING",
                               headers=challenge)  # fmt: skip
        key = authorization[7:].strip()
        principal = await state.store_call(lambda: state.store.authenticate(key))
        if principal is None:
            raise ProblemError(401, "the API key is unknown or revoked", code="AUTH_INVALID", headers=challenge)
        # a regulator reads as a tenant that owns nothing: any decision by id is 404, never a 403 that confirms it
        if scope not in principal.scopes and not (scope == "read" and "regulator" in principal.scopes):
            raise ProblemError(403, f"this route needs the scope '{scope}'; the key has "
                               f"{', '.join(sorted(principal.scopes))}", code="SCOPE_MISSING")  # fmt: skip
        request.state.tenant = principal.tenant
        return principal

    return check
