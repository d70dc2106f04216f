"""``pymescore user create|list|disable|reset-password``: the workbench's users (argon2-hashed passwords)."""

from __future__ import annotations

from typing import Annotated

import typer

from pymescore.cli._output import console, emit_json
from pymescore.cli._serve import DbOpt, _store

user = typer.Typer(
    help="Users of the lending workbench (/app/), per tenant; a generated password is shown once.\n\n"
    "Example: pymescore user create --tenant banco-demo --username ana --role officer --limit 50000",
    no_args_is_help=True,
)


@user.command("create")
def user_create(
    tenant: Annotated[str, typer.Option(help="The tenant (institution) whose cases the user sees.")],
    username: Annotated[str, typer.Option(help="Login name, unique across tenants (lowercase).")],
    role: Annotated[str, typer.Option(help="officer, approver, reviewer or admin.")],
    limit: Annotated[
        float | None,
        typer.Option(
            help="Delegation limit in PEN. An officer without one has every approval confirmed by an "
            "approver; an approver without one may confirm any amount."
        ),
    ] = None,
    database_url: DbOpt = None,
) -> None:
    """Create a user. The last line is `{"username", "tenant", "role", "password"}`: hand the password over now.

    Example: pymescore user create --tenant banco-demo --username ana --role officer --limit 50000
    """
    from pymescore.service.console import Accounts

    password, made = Accounts(_store(database_url)).create_user(tenant, username, role, limit)
    console.print(f"User {made.username} ({made.role}) for tenant {made.tenant}; the password is not shown again.")
    emit_json({"username": made.username, "tenant": made.tenant, "role": made.role, "password": password})


@user.command("list")
def user_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's users.")] = None, database_url: DbOpt = None
) -> None:
    """List users (name, tenant, role, limit, disabled, locked); never passwords.

    Example: pymescore user list --tenant banco-demo
    """
    from pymescore.service.console import Accounts

    emit_json(Accounts(_store(database_url)).list_users(tenant))


@user.command("disable")
def user_disable(
    username: Annotated[str, typer.Argument(help="The user's login name.")], database_url: DbOpt = None
) -> None:
    """Disable a user: no more logins, open sessions end (their actions stay in the audit trail).

    Example: pymescore user disable ana
    """
    from pymescore.service.console import Accounts

    emit_json(Accounts(_store(database_url)).disable_user(username))


@user.command("reset-password")
def user_reset_password(
    username: Annotated[str, typer.Argument(help="The user's login name.")], database_url: DbOpt = None
) -> None:
    """Generate a new password (shown once), lift a lock-out and end open sessions.

    Example: pymescore user reset-password ana
    """
    from pymescore.service.console import Accounts

    password, made = Accounts(_store(database_url)).reset_password(username)
    emit_json({"username": made.username, "tenant": made.tenant, "role": made.role, "password": password})


def register(app: typer.Typer) -> None:
    app.add_typer(user, name="user")
