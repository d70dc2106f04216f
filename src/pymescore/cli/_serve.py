"""``pymescore serve``, ``pymescore apikey create|list|revoke`` and ``pymescore demo-serve``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pymescore.cli._output import console, emit_json

if TYPE_CHECKING:
    from pymescore.service import AuditStore

DbOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="Audit store URL (default: PYMESCORE_DATABASE_URL or sqlite:///pymescore.db)."),
]


def _store(database_url: str | None) -> AuditStore:
    import sqlalchemy as sa

    from pymescore.config import Settings
    from pymescore.errors import ConfigError
    from pymescore.service import AuditStore

    settings = Settings(database_url=database_url) if database_url else Settings()
    url = settings.database_url
    try:
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        shown = url.split("@")[-1]  # never echo a password, even of a URL that does not parse
    try:
        store = AuditStore(url, timeout_s=5.0)
        store.migrate()
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise ConfigError(f"--database-url: expected a SQLAlchemy URL (sqlite:///audit.db, "
                          f"postgresql+psycopg://user@host/db), got {shown!r}") from exc  # fmt: skip
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"--database-url: expected sqlite or postgresql, got {shown!r} ({exc})") from exc
    except sa.exc.DBAPIError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        raise ConfigError(f"audit store {shown}: expected a reachable pymescore database, got: {cause}") from exc
    return store


def serve_command(
    bundle: Annotated[Path | None, typer.Option("--bundle", help="Bundle folder to serve.")] = None,
    model_uri: Annotated[
        str | None, typer.Option("--model-uri", help="Registry URI instead, e.g. models:/pymescore@champion.")
    ] = None,
    shadow_bundle: Annotated[
        Path | None, typer.Option("--shadow-bundle", help="Challenger bundle scored in the shadow (never returned).")
    ] = None,
    shadow_uri: Annotated[
        str | None, typer.Option("--shadow-uri", help="Or the registry's, e.g. models:/pymescore@challenger.")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (each with --xgb-threads threads).")] = 1,
    database_url: DbOpt = None,
    lake: Annotated[
        Path | None,
        typer.Option(
            "--lake",
            help="Lake whose PEN/USD rates convert USD amounts first (re-read on reload); "
            "without it, the bundle's rates, then the request's exchange_rates by month.",
        ),
    ] = None,
    policy: Annotated[Path | None, typer.Option("--policy", help="TOML decision policy (default: built-in).")] = None,
    xgb_threads: Annotated[int, typer.Option(help="XGBoost threads per worker.")] = 1,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve /metrics on this port instead of the API's (PYMESCORE_METRICS_PORT).")
    ] = None,
) -> None:
    """Serve explained credit decisions over HTTP (FastAPI under uvicorn, uvloop, httptools).

    Migrates the audit store, verifies the model, then starts the workers. Decisions are committed to
    the audit store before each answer. OpenAPI at /docs; metrics at /metrics.

    Examples:

        pymescore serve --bundle demo/bundle --lake demo/lake

        PYMESCORE_DATABASE_URL=postgresql://postgres@db/pymescore pymescore serve \\
            --model-uri models:/pymescore@champion --workers 2 --host 0.0.0.0

    USD amounts convert at the lake's rates (--lake), else at the bundle's (the rates its training data was
    converted with), else at a rate the request sends for the month (exchange_rates, stored with the decision);
    amounts the features never read need none. See docs/exchange-rates.md.

    With --shadow-uri models:/pymescore@challenger (or --shadow-bundle) the challenger, verified and reloaded like
    the champion, scores every decided application after the answer is committed; its decision goes to the audit
    trail's shadow_decisions, never to the client (`pymescore monitor` compares the two). See docs/shadow.md.
    """
    import secrets
    import shutil

    # before anything imports prometheus_client: it decides at import whether values go to files shared
    # by the workers; a fresh folder per start (counters of an earlier run must not leak into this one)
    own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    metrics_dir = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="pymescore-metrics-"))
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    if not os.environ.get("PYMESCORE_LOG_SALT"):  # one secret shared by the workers of this run
        os.environ["PYMESCORE_LOG_SALT"] = secrets.token_hex(16)
        console.print("PYMESCORE_LOG_SALT is not set: RUC hashes in the logs are comparable within this run only.")

    import uvicorn

    from pymescore.config import Settings
    from pymescore.service._source import exchange_rates, policy_from, shadow_source_from, source_from

    env = {
        "PYMESCORE_SERVE_BUNDLE": str(bundle) if bundle else None,
        "PYMESCORE_SERVE_MODEL_URI": model_uri,
        "PYMESCORE_SERVE_SHADOW_BUNDLE": str(shadow_bundle) if shadow_bundle else None,
        "PYMESCORE_SERVE_SHADOW_URI": shadow_uri,
        "PYMESCORE_DATABASE_URL": database_url,
        "PYMESCORE_LAKE": str(lake) if lake else None,
        "PYMESCORE_POLICY_FILE": str(policy) if policy else None,
        "PYMESCORE_XGB_THREADS": str(xgb_threads),
        "PYMESCORE_METRICS_PORT": str(metrics_port) if metrics_port else None,
    }
    for k, v in env.items():
        if v is not None:
            os.environ[k] = v
    settings = Settings()
    source = source_from(settings)  # with the trusted keys: a forged or untrusted bundle stops serve here
    scorer = source.load(policy_from(settings), exchange_rates(settings), settings.xgb_threads)  # fail fast here
    challenger = shadow_source_from(settings)
    if challenger is not None:  # verified like the champion: a forged challenger stops serve here too
        shadow = challenger.load(policy_from(settings), exchange_rates(settings), settings.xgb_threads)
        console.print(f"Shadow challenger {shadow.version} from {challenger.label}: stored, never returned.")
        del shadow
    _store(settings.database_url).dispose()
    console.print(
        f"Serving model {scorer.version} from {source.label} on http://{host}:{port} ({workers} worker(s)); "
        f"docs at /docs, metrics at /metrics; PEN/USD rates: {scorer.book.describe()}. Ctrl-C stops."
    )
    del scorer  # verified; each worker loads its own
    if settings.metrics_port:
        from pymescore.service._metrics import serve_metrics

        serve_metrics(host, settings.metrics_port)
        console.print(f"Metrics on http://{host}:{settings.metrics_port}/metrics only.")
    try:
        if workers == 1:
            uvicorn.run(
                "pymescore.service._app:app_from_env",
                factory=True,
                host=host,
                port=port,
                loop="uvloop",
                http="httptools",
                log_level="warning",
                timeout_graceful_shutdown=15,
            )
        else:  # one SO_REUSEPORT socket per worker: the kernel spreads connections evenly
            from pymescore.service._workers import run_workers

            run_workers(host, port, workers)
    finally:
        if own_metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


apikey = typer.Typer(
    help="API keys of the scoring service (stored hashed; a key is shown once).\n\n"
    "Example: pymescore apikey create --tenant bank-a --scopes score,read",
    no_args_is_help=True,
)


@apikey.command("create")
def apikey_create(
    tenant: Annotated[str, typer.Option(help="The tenant (bank, branch) whose decisions the key sees.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: score, read, admin.")] = "score,read",
    label: Annotated[str, typer.Option(help="A note: who holds the key.")] = "",
    database_url: DbOpt = None,
) -> None:
    """Create a key. The last line is `{"key": …, "tenant": …, "scopes": […]}`: store the key now.

    Example: pymescore apikey create --tenant banco-demo --scopes score,read
    """
    store = _store(database_url)
    key, row = store.create_key(tenant, [s.strip() for s in scopes.split(",") if s.strip()], label)
    console.print(f"Key {row['id']} for tenant {tenant} ({', '.join(row['scopes'])}); it is not shown again.")
    emit_json({"key": key, "tenant": row["tenant"], "scopes": row["scopes"], "id": row["id"]})


@apikey.command("list")
def apikey_list(database_url: DbOpt = None) -> None:
    """List keys (id, tenant, scopes, created, revoked); never the keys themselves.

    Example: pymescore apikey list
    """
    emit_json(_store(database_url).list_keys())


@apikey.command("revoke")
def apikey_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `apikey list`).")], database_url: DbOpt = None
) -> None:
    """Revoke a key: its next request gets 401.

    Example: pymescore apikey revoke 3f9a1c2e
    """
    emit_json(_store(database_url).revoke_key(key_id))


def register(app: typer.Typer) -> None:
    from pymescore.cli._demo_serve import demo_serve_command

    app.command("serve")(serve_command)
    app.add_typer(apikey, name="apikey")
    app.command("demo-serve")(demo_serve_command)
