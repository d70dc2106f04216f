"""The workbench's users and sessions: `pymescore user`, argon2 hashes, cookies, CSRF, lock-out, login trail.

These run on the app without a model (its lifespan is not entered): no page here scores anything.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pymescore.cli import _register, app
from pymescore.config import Settings
from pymescore.service import build_state, create_app
from pymescore.service.console import Accounts, UserError

_register()
runner = CliRunner()


@pytest.fixture
def web(tmp_path: Path) -> Iterator[dict[str, Any]]:
    settings = Settings(serve_bundle=tmp_path / "no-bundle", database_url=f"sqlite:///{tmp_path / 'a.db'}",
                        reload_interval_s=0)  # fmt: skip
    state = build_state(settings)
    state.store.migrate()
    accounts = Accounts(state.store)
    yield {"app": create_app(state), "accounts": accounts, "db": settings.database_url, "state": state}
    state.store.dispose()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def log_in(client: TestClient, username: str, password: str) -> Any:
    token = csrf_of(client.get("/app/login").text)
    return client.post("/app/login", data={"username": username, "password": password, "csrf_token": token},
                       follow_redirects=False)  # fmt: skip


def test_user_cli_prints_the_password_once_as_json_and_stores_only_a_hash(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'u.db'}"

    def cli(*args: str) -> Any:
        return runner.invoke(app, ["user", *args, "--database-url", db])

    made = cli("create", "--tenant", "t1", "--username", "ana", "--role", "officer", "--limit", "50000")
    assert made.exit_code == 0, made.output
    out = json.loads(made.stdout.strip().splitlines()[-1])
    assert set(out) == {"username", "tenant", "role", "password"}
    assert len(out["password"]) >= 12
    listed = json.loads(cli("list").stdout.strip().splitlines()[-1])
    assert listed[0]["username"] == "ana"
    assert listed[0]["limit_pen"] == 50000
    assert "password" not in str(listed)
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        (stored,) = conn.execute(sa.text("SELECT password_hash FROM console_users")).one()
    engine.dispose()
    assert stored.startswith("$argon2id$")
    assert out["password"] not in stored
    taken = cli("create", "--tenant", "t2", "--username", "ana", "--role", "officer")
    assert isinstance(taken.exception, UserError)
    assert "not yet taken" in taken.exception.message
    bad = cli("create", "--tenant", "t1", "--username", "bob", "--role", "boss")
    assert isinstance(bad.exception, UserError)
    assert "officer, approver, reviewer, admin" in bad.exception.message
    again = json.loads(cli("reset-password", "ana").stdout.strip().splitlines()[-1])
    assert again["password"] != out["password"]
    assert json.loads(cli("disable", "ana").stdout.strip().splitlines()[-1])["disabled"] is True


def test_the_user_command_ends_with_exit_code_2_on_a_mistake(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pymescore", "user", "create", "--tenant", "t", "--username", "x y",
                           "--role", "officer", "--database-url", f"sqlite:///{tmp_path / 'u.db'}"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error [USER_INVALID]: --username")


def test_login_sets_a_strict_session_cookie_and_logout_ends_it(web: dict[str, Any]) -> None:
    password, _ = web["accounts"].create_user("bank-a", "ana", "officer", 1000)
    client = TestClient(web["app"])
    assert client.get("/app/solicitudes", follow_redirects=False).headers["location"].startswith("/app/login")
    r = log_in(client, "ana", password)
    assert r.status_code == 303
    assert r.headers["location"] == "/app/solicitudes"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("pms_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/app" in cookie
    assert "Secure" not in cookie
    page = client.get("/app/solicitudes")
    assert page.status_code == 200
    assert "ana" in page.text
    r = client.post("/app/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.set("pms_session", cookie.split(";")[0].split("=", 1)[1], path="/app")  # the old token: dead
    assert client.get("/app/solicitudes", follow_redirects=False).status_code == 303
    trail = [e["event"] for e in web["accounts"].events("bank-a")]
    assert trail[:2] == ["logout", "login"]


def test_cookies_are_secure_behind_tls(web: dict[str, Any]) -> None:
    password, _ = web["accounts"].create_user("bank-a", "ana", "officer", 1000)
    client = TestClient(web["app"], base_url="https://testserver")
    r = log_in(client, "ana", password)
    assert "Secure" in next(c for c in r.headers.get_list("set-cookie") if c.startswith("pms_session="))
    # behind a TLS-terminating proxy that says so (the proxy speaks plain HTTP to the app)
    r = TestClient(web["app"], headers={"X-Forwarded-Proto": "https"}).get("/app/login")
    assert "Secure" in next(c for c in r.headers.get_list("set-cookie") if c.startswith("pms_login_csrf="))


def test_a_form_without_its_csrf_token_is_refused(web: dict[str, Any]) -> None:
    password, _ = web["accounts"].create_user("bank-a", "ana", "officer", 1000)
    client = TestClient(web["app"])
    client.get("/app/login")
    r = client.post("/app/login", data={"username": "ana", "password": password}, follow_redirects=False)
    assert r.status_code == 403
    assert "CSRF" in r.text
    assert log_in(client, "ana", password).status_code == 303
    r = client.post("/app/logout", data={}, follow_redirects=False)
    assert r.status_code == 403
    r = client.post("/app/logout", data={"csrf_token": "x" * 32}, follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/app/solicitudes").status_code == 200  # still logged in


def test_five_failures_lock_the_account_and_every_attempt_is_recorded(web: dict[str, Any]) -> None:
    password, _ = web["accounts"].create_user("bank-a", "ana", "officer", 1000)
    client = TestClient(web["app"])
    for _ in range(5):
        r = log_in(client, "ana", "wrong-password")
        assert r.headers["location"].startswith("/app/login?failed=1")
    r = log_in(client, "ana", password)  # the right password, but locked
    assert r.headers["location"].startswith("/app/login?failed=1")
    events = [e["event"] for e in web["accounts"].events("bank-a")]
    assert events.count("login_failed") == 6
    assert "locked" in events
    assert "login" not in events
    web["accounts"].reset_password("ana")  # an admin lifts the lock with a new password
    assert web["accounts"].list_users("bank-a")[0]["locked_until"] is None


def test_disabled_users_and_unknown_users_cannot_log_in(web: dict[str, Any]) -> None:
    password, _ = web["accounts"].create_user("bank-a", "ana", "officer", 1000)
    client = TestClient(web["app"])
    assert log_in(client, "ana", password).status_code == 303
    web["accounts"].disable_user("ana")
    assert client.get("/app/solicitudes", follow_redirects=False).status_code == 303  # its session ended
    assert log_in(client, "ana", password).headers["location"].startswith("/app/login?failed=1")
    assert log_in(client, "nobody", "x").headers["location"].startswith("/app/login?failed=1")
    with pytest.raises(UserError):
        web["accounts"].disable_user("nobody")


def test_language_switch_and_no_open_redirect(web: dict[str, Any]) -> None:
    client = TestClient(web["app"])
    assert 'lang="es"' in client.get("/app/login").text
    r = client.get("/app/idioma/en?next=https://evil.example/", follow_redirects=False)
    assert r.headers["location"] == "/app/solicitudes"
    page = client.get("/app/login")
    assert 'lang="en"' in page.text
    assert "Log in" in page.text


def test_demo_users_are_made_once_and_get_new_passwords_on_a_rerun(web: dict[str, Any]) -> None:
    from pymescore.cli._demo_serve import _demo_users

    first = _demo_users(web["state"].store)
    assert {n: r for n, (r, _) in first.items()} == {"demo-oficial": "officer", "demo-comite": "approver",
                                                     "demo-riesgos": "reviewer"}  # fmt: skip
    again = _demo_users(web["state"].store)
    assert all(again[n][1] != first[n][1] for n in first)
    assert {u["tenant"] for u in web["accounts"].list_users()} == {"demo"}
    client = TestClient(web["app"])
    assert log_in(client, "demo-oficial", again["demo-oficial"][1]).status_code == 303
