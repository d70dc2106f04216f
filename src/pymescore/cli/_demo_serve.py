"""``pymescore demo-serve``: start the service on the demo bundle and score two sample applications."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pymescore.cli._output import console, emit_json


def _pick(bundle: Path, lake: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """One application the policy approves and one it declines, from the lake's latest quarter."""
    from pymescore.bundle import load_bundle
    from pymescore.config import Settings
    from pymescore.lake import Lake
    from pymescore.service import Policy, Scorer, ScoreRequest, application_bodies
    from pymescore.service._source import trust_from

    lk = Lake(lake)
    tables = {n: lk.read(n) for n in ("firms", "monthly_cashflows", "financial_statements", "payments",
                                      "bureau_ratings")}  # fmt: skip
    last = tables["monthly_cashflows"]["month"].max()
    as_of = str((last + __import__("pandas").offsets.MonthBegin(1)).date())
    scorer = Scorer(load_bundle(bundle, trust_from(Settings())), Policy(), lk.read_optional("exchange_rates"))
    rucs = [str(r) for r in tables["firms"]["ruc"].iloc[:400]]
    bodies = application_bodies(tables, rucs, as_of, requested_amount=20_000, term_months=24)
    results = scorer.score([ScoreRequest.model_validate(b) for b in bodies])
    found: dict[str, dict[str, Any]] = {}
    for body, r in zip(bodies, results, strict=True):
        decision = getattr(r, "response", {}).get("decision")
        if decision in ("approve", "decline") and decision not in found:
            found[decision] = body
    if len(found) < 2:
        raise typer.BadParameter("expected the lake to hold one approvable and one declinable firm, found fewer")
    return found["approve"], found["decline"]


def _show(result: dict[str, Any]) -> None:
    from rich.panel import Panel
    from rich.table import Table

    colour = {"approve": "green", "review": "yellow", "decline": "red"}[result["decision"]]
    table = Table.grid(padding=(0, 2))
    table.add_row("RUC", result["ruc"], "Fecha de evaluación", result["as_of"])
    table.add_row("Puntaje", f"{result['score']} (banda {result['band']})", "PD 12 meses", f"{result['pd']:.2%}")
    table.add_row(
        "Solicitado", f"S/ {result['requested_amount']:,.0f}", "Sugerido", f"S/ {result['suggested_amount']:,.0f}"
    )
    lines = [f"[bold {colour}]{result['decision'].upper()}[/]", ""]
    if result["policy_rules"]:
        lines.append("Reglas de política: " + "; ".join(r["text"] for r in result["policy_rules"]))
    lines.append("Razones principales:")
    lines += [f"  • {r['text']} ({r['impact_points']:+.1f} pts)" for r in result["reasons"]] or ["  • (ninguna)"]
    if result["improvement_hints"]:
        lines.append("Cómo mejorar:")
        lines += [f"  • {h['text']} (+{h['points']:.0f} pts)" for h in result["improvement_hints"]]
    console.print(Panel.fit(table, title=f"score_id {result['score_id']}"))
    console.print("\n".join(lines))


def _demo_users(store: Any) -> dict[str, tuple[str, str]]:
    """An officer (delegation limit S/ 50,000), an approver and a reviewer for tenant ``demo``: name -> (role,
    password); an existing one gets a new password."""
    from pymescore.service.console import Accounts, UserError

    accounts = Accounts(store)
    out = {}
    for name, role, limit in (("demo-oficial", "officer", 50_000.0), ("demo-comite", "approver", None),
                              ("demo-riesgos", "reviewer", None)):  # fmt: skip
        try:
            password, _ = accounts.create_user("demo", name, role, limit)
        except UserError:
            password, _ = accounts.reset_password(name)
        out[name] = (role, password)
    return out


def demo_serve_command(
    bundle: Annotated[Path, typer.Option("--bundle", help="Bundle folder to serve.")],
    lake: Annotated[Path, typer.Option("--lake", help="Lake the sample applications are drawn from.")],
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1.")] = 8000,
    database_url: Annotated[str, typer.Option(help="Audit store URL.")] = "sqlite:///pymescore.db",
    keep_serving: Annotated[bool, typer.Option("--serve/--no-serve", help="Keep serving after the samples.")] = True,
) -> None:
    """Start the service, score one approvable and one declinable application over HTTP, print them.

    Example: pymescore demo-serve --bundle demo/bundle --lake demo/lake --database-url sqlite:///demo/audit.db
    """
    import httpx

    from pymescore.service import AuditStore, wait_until_ready

    approve, decline = _pick(bundle, lake)
    store = AuditStore(database_url)
    store.migrate()
    key, _ = store.create_key("demo", ["score", "read"], "make demo")
    users = _demo_users(store)
    env = {**os.environ, "PYMESCORE_DATABASE_URL": database_url, "PYMESCORE_LOG_LEVEL": "WARNING"}  # readable samples
    cmd = [sys.executable, "-m", "pymescore.cli", "serve", "--bundle", str(bundle), "--lake", str(lake),
           "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(cmd, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_ready(base, server, 60):
            raise typer.BadParameter(f"expected the service to become ready on {base}, it did not")
        headers = {"Authorization": f"Bearer {key}"}
        results = []
        for body in (approve, decline):
            r = httpx.post(f"{base}/v1/scores", json=body, headers=headers, timeout=30)
            if r.status_code != 201:
                raise typer.BadParameter(f"expected the sample to be scored (201), got {r.status_code}: {r.text[:800]}")
            results.append(r.json())
            _show(r.json())
        console.print(f"Workbench: {base}/app/ (tenant 'demo'; the two samples are listed under Solicitudes)")
        for name, (role, password) in users.items():
            console.print(f"  {role:<9} {name:<14} password {password}")
        emit_json({"decisions": [(r["score_id"], r["decision"], r["score"]) for r in results],
                   "console": f"{base}/app/", "users": {n: p for n, (_, p) in users.items()}})  # fmt: skip
        if keep_serving:
            console.print(f"Serving on {base} (docs {base}/docs). API key for tenant 'demo': {key}\nCtrl-C stops.")
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=20)
