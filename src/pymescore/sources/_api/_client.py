"""The HTTP side of an API source: OAuth2 client credentials, retries, a rate limit, optional mutual TLS.

- **Token** (RFC 6749 §4.4): requested with the client id and secret (HTTP Basic, or in the form with
  ``auth_method = "client_secret_post"``), cached, and renewed when it has less than
  ``token_refresh_margin_s`` left (at most half its life). A 401 on a resource renews it once and repeats the
  request; a second 401 with a fresh token fails the sync.
- **Retries**: timeouts, connection errors, a body cut short or not JSON, and 5xx answers are retried up to
  ``max_retries`` times after ``backoff_s · 2^attempt`` seconds (capped at ``backoff_max_s``), half of it
  random (jitter). A 429 waits its ``Retry-After`` (seconds or an HTTP date) when it gives one.
- **Rate limit**: requests to one institution start at least ``1 / rate_limit_per_s`` seconds apart.
- **Secrets** never reach a log line or an error message: only the method, the URL path and the status are
  logged, and the token only travels in the ``Authorization`` header.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from pymescore.errors import SourceError
from pymescore.sources._api._config import Institution

log = logging.getLogger(__name__)


class ApiSourceError(SourceError):
    """An institution's API could not be read; nothing of the failing resource was written."""

    code = "API_ERROR"


class RateLimiter:
    """Requests start at least ``1 / per_second`` seconds apart."""

    def __init__(self, per_second: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.interval = 1.0 / per_second
        self.clock, self.sleep = clock, sleep
        self.next_at = 0.0

    def wait(self) -> None:
        now = self.clock()
        if now < self.next_at:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header as seconds to wait: delay-seconds or an HTTP date (RFC 9110 §10.2.3).

    >>> retry_after_seconds("3")
    3.0
    >>> retry_after_seconds("soon") is None
    True
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


def _oauth_error(response: httpx.Response) -> str:
    """The ``error`` code of an OAuth error answer (RFC 6749 §5.2), never its other fields."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    code = body.get("error") if isinstance(body, dict) else None
    return (
        f"HTTP {response.status_code} {code}"
        if isinstance(code, str) and code.isascii()
        else f"HTTP {response.status_code}"
    )


class ApiClient:
    """One institution's HTTP client: token cache, rate limit, retries. Use as a context manager."""

    def __init__(
        self,
        institution: Institution,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
    ) -> None:
        self.inst = institution
        self.sleep, self.clock = sleep, clock
        self.rng = random.Random(seed)
        self.limiter = RateLimiter(institution.rate_limit_per_s, clock, sleep)
        cert: tuple[str, str] | str | None = None
        if institution.tls_client_cert is not None:
            cert = (str(institution.tls_client_cert), str(institution.tls_client_key)) if institution.tls_client_key \
                else str(institution.tls_client_cert)  # fmt: skip
        verify: Any = True
        if institution.tls_ca_bundle is not None:
            import ssl

            verify = ssl.create_default_context(cafile=str(institution.tls_ca_bundle))
            if cert is not None:
                verify.load_cert_chain(*((cert,) if isinstance(cert, str) else cert))
                cert = None
        self.http = httpx.Client(timeout=institution.timeout_s, cert=cert, verify=verify, follow_redirects=False)
        self._token: str | None = None
        self._expires_at = 0.0
        self.requests = 0
        self.token_requests = 0

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    # -- token ------------------------------------------------------------------------------------
    def token(self) -> str:
        """The cached token, renewed first when it is about to expire."""
        if self._token is None or self.clock() >= self._expires_at:
            self._fetch_token()
        assert self._token is not None
        return self._token

    def invalidate_token(self) -> None:
        self._token = None

    def _fetch_token(self) -> None:
        inst = self.inst
        form = {"grant_type": "client_credentials"}
        if inst.scopes:
            form["scope"] = " ".join(inst.scopes)
        auth: httpx.BasicAuth | None = None
        if inst.auth_method == "client_secret_basic":
            auth = httpx.BasicAuth(inst.client_id, inst.client_secret())
        else:
            form |= {"client_id": inst.client_id, "client_secret": inst.client_secret()}
        self.token_requests += 1
        response, body = self._send("POST", inst.token_url, data=form, auth=auth)
        if response.status_code != 200:
            raise ApiSourceError(
                f"institution {inst.name}: expected an access token from {_path(inst.token_url)}, got "
                f"{_oauth_error(response)}; check client_id, the secret and the scopes",
                code="API_AUTH",
            )
        token = body.get("access_token") if isinstance(body, dict) else None
        kind = str(body.get("token_type", "")).lower() if isinstance(body, dict) else ""
        if not isinstance(token, str) or not token or kind != "bearer":
            raise ApiSourceError(
                f"institution {inst.name}: expected a bearer access_token from {_path(inst.token_url)}, got "
                f"{'no access_token' if not isinstance(token, str) or not token else f'token_type {kind!r}'}",
                code="API_AUTH",
            )
        lifetime = body.get("expires_in")
        life = float(lifetime) if isinstance(lifetime, (int, float)) and lifetime > 0 else float("inf")
        margin = min(inst.token_refresh_margin_s, life / 2)
        self._token, self._expires_at = token, self.clock() + life - margin
        log.info("institution %s: new access token (%s s)", inst.name, lifetime)

    # -- requests ---------------------------------------------------------------------------------
    def get_json(self, url: str, params: Mapping[str, str] | None = None) -> Any:
        """GET ``url`` with the bearer token and return its JSON body, retrying what a retry can fix."""
        refreshed = False
        while True:
            response, body = self._send("GET", url, params=params, bearer=True)
            if response.status_code == 401 and not refreshed:
                log.info("institution %s: 401 on %s, renewing the token once", self.inst.name, _path(url))
                self.invalidate_token()
                refreshed = True
                continue
            if response.status_code != 200:
                what = _oauth_error(response) if response.status_code in (401, 403) else f"HTTP {response.status_code}"
                raise ApiSourceError(
                    f"institution {self.inst.name}: expected 200 from GET {_path(url)}, got {what}"
                    + ("; the token's scopes may not cover it" if response.status_code == 403 else ""),
                    code="API_AUTH" if response.status_code in (401, 403) else "API_HTTP",
                    status=response.status_code,
                )
            return body

    def _send(
        self,
        method: str,
        url: str,
        *,
        bearer: bool = False,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        auth: httpx.BasicAuth | None = None,
    ) -> tuple[httpx.Response, Any]:
        """One request with retries: the last answer, and its JSON body when it is a 200."""
        attempt = 0
        while True:
            self.limiter.wait()
            hdrs = {"Accept": "application/json"}
            if bearer:
                hdrs["Authorization"] = f"Bearer {self.token()}"
            problem: str
            wait: float | None = None
            try:
                self.requests += 1
                response = self.http.request(method, url, params=params, data=data, auth=auth, headers=hdrs)
                log.info("%s %s -> %s", method, _path(url), response.status_code)
                if response.status_code == 200:
                    return response, self._json(response, url)
                if response.status_code == 429:
                    problem = "HTTP 429"
                    wait = retry_after_seconds(response.headers.get("Retry-After"))
                    if wait is not None and wait > self.inst.retry_after_max_s:
                        raise ApiSourceError(
                            f"institution {self.inst.name}: expected a Retry-After of at most "
                            f"{self.inst.retry_after_max_s:g} s on {_path(url)}, got {wait:g} s",
                            code="API_RATE_LIMITED",
                        )
                elif response.status_code >= 500:
                    problem = f"HTTP {response.status_code}"
                else:
                    return response, None
            except httpx.TimeoutException:
                problem = f"no answer within {self.inst.timeout_s:g} s"
            except httpx.TransportError as exc:
                problem = f"a connection error ({type(exc).__name__})"
            except _BadBodyError as exc:
                problem = exc.message
            if attempt >= self.inst.max_retries:
                raise ApiSourceError(
                    f"institution {self.inst.name}: expected an answer from {method} {_path(url)} within "
                    f"{self.inst.max_retries + 1} attempts, got {problem} on the last",
                    code="API_RETRIES_EXHAUSTED",
                )
            if wait is None:
                step = min(self.inst.backoff_max_s, self.inst.backoff_s * 2**attempt)
                wait = step / 2 + self.rng.uniform(0, step / 2)
            log.warning("%s %s: %s; retry %d in %.2f s", method, _path(url), problem, attempt + 1, wait)
            self.sleep(wait)
            attempt += 1

    def _json(self, response: httpx.Response, url: str) -> Any:
        try:
            return json.loads(response.content)
        except ValueError:
            raise _BadBodyError(f"a body that is not complete JSON from {_path(url)}") from None


class _BadBodyError(ApiSourceError):
    """A 200 answer whose body does not parse: a page cut short, retried like a dropped connection."""

    code = "API_BAD_BODY"
