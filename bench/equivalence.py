"""Equivalence check: the scorer at a baseline commit and the working tree score the same applications alike.

The baseline is checked out into a temporary git worktree and run in a subprocess (same Python
environment, its own source), so the comparison needs no stored golden file:

    python -m bench.equivalence --baseline c807f71 --bundle demo/bundle --lake demo/lake --n 2000

Applications are drawn from the lake (distinct firms, 24-month histories, several as_of dates, amounts,
terms and currencies; some without the firm's register data or a history; a few that break the
contract). PD must agree to 1e-9; score, band, decision, suggested amount, reasons, rules, hints and the
contract errors exactly (reason points to 0.01). Differences are listed by field; the JSON result goes to
``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import write_result

AS_OF = ("2024-06-30", "2025-01-01", "2026-01-01")
IGNORED = {"score_id", "created_at"}


def make_bodies(lake: Path, n: int, seed: int = 11) -> list[dict[str, Any]]:
    from bench._service import request_bodies

    rng = np.random.default_rng(seed)
    bodies: list[dict[str, Any]] = []
    per = -(-n // len(AS_OF))
    for k, as_of in enumerate(AS_OF):
        bodies.extend(request_bodies(lake, per, as_of, seed=seed + k))
    bodies = bodies[:n]
    for i, body in enumerate(bodies):
        body["requested_amount"] = float(rng.choice([5_000, 20_000, 30_000, 80_000, 250_000]))
        body["term_months"] = int(rng.choice([6, 12, 24, 36]))
        u = rng.random()
        if u < 0.08:
            body["currency"] = "USD"
        elif u < 0.12:
            body.pop("firm", None)
        elif u < 0.16:
            body[str(rng.choice(["monthly_cashflows", "payments", "financial_statements", "bureau_ratings"]))] = []
        elif u < 0.18 and body["monthly_cashflows"]:
            body["monthly_cashflows"][0]["income"] = -1.0  # breaks the contract: refused with its path
        elif u < 0.19 and body["payments"]:
            body["payments"][-1]["amount_due"] = -5.0
        body["_i"] = i
    return bodies


def dump(bodies_file: Path, bundle: Path, lake: Path, out: Path) -> None:
    """Score the bodies with the code on ``sys.path``; one JSON line per application."""
    from pymescore.bundle import load_bundle
    from pymescore.lake import Lake
    from pymescore.service import Scorer, ScoreRequest

    try:
        from pymescore.decision import Policy
    except ImportError:  # a baseline from before decision.py
        from pymescore.service import Policy  # type: ignore[attr-defined,no-redef]

    bodies = json.loads(bodies_file.read_text())
    scorer = Scorer(load_bundle(bundle), Policy(), Lake(lake).read_optional("exchange_rates"))
    lines = []
    for lang in ("es", "en"):
        requests = [ScoreRequest.model_validate({k: v for k, v in b.items() if k != "_i"}) for b in bodies]
        for body, result in zip(bodies, scorer.score(requests, lang=lang), strict=True):
            if hasattr(result, "response"):
                row = {k: v for k, v in result.response.items() if k not in IGNORED}
                row["features"] = result.features
            else:
                row = {"errors": sorted(result.fields.get("errors", []), key=lambda e: json.dumps(e, sort_keys=True))}
            lines.append(json.dumps({"i": body["_i"], "lang": lang, **row}, sort_keys=True, default=str))
    out.write_text("\n".join(lines) + "\n")


def _differ(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            _differ(a.get(key), b.get(key), f"{path}.{key}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items vs {len(b)}")
        for k, (x, y) in enumerate(zip(a, b, strict=False)):
            _differ(x, y, f"{path}[{k}]", out)
    elif isinstance(a, float) and isinstance(b, float):
        tol = 1e-9 if path.endswith(".pd") else 0.0100001 if "points" in path else 1e-9 * max(1.0, abs(a))
        if not abs(a - b) <= tol:
            out.append(f"{path}: {a!r} vs {b!r}")
    elif a != b:
        out.append(f"{path}: {a!r} vs {b!r}")


def compare(base: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    diffs: dict[str, list[str]] = {}
    for a, b in zip(base, new, strict=True):
        found: list[str] = []
        _differ(a, b, "", found)
        for d in found:
            field = d.split(":", 1)[0].split("[", 1)[0]
            diffs.setdefault(field, []).append(f"app {a['i']} ({a['lang']}) {d}")
    covered: dict[str, int] = {}  # what the comparison covered, so that "no difference" is not vacuous
    for row in base:
        for key in (
            ([f"decision:{row.get('decision')}"] if "decision" in row else ["refused"])
            + [f"rule:{r['code']}" for r in row.get("policy_rules", [])]
            + (["with hints"] if row.get("improvement_hints") else [])
        ):
            covered[key] = covered.get(key, 0) + 1
    return {"applications": len(base), "fields_differing": {k: len(v) for k, v in diffs.items()},
            "examples": {k: v[:5] for k, v in diffs.items()}, "covered": dict(sorted(covered.items()))}  # fmt: skip


def _run_dump(src_root: Path, bodies: Path, bundle: Path, lake: Path, out: Path) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": f"{src_root / 'src'}{os.pathsep}{Path.cwd()}"}
    code = "import sys; from pathlib import Path; from bench.equivalence import dump; dump(*map(Path, sys.argv[1:]))"
    subprocess.run([sys.executable, "-c", code, str(bodies), str(bundle), str(lake), str(out)], env=env, check=True)
    return [json.loads(line) for line in out.read_text().splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="git commit of the baseline scorer")
    parser.add_argument("--bundle", type=Path, default=Path("demo/bundle"))
    parser.add_argument("--lake", type=Path, default=Path("demo/lake"))
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("bench/results/equivalence.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pymescore-equivalence-") as tmp:
        work = Path(tmp)
        bodies = work / "bodies.json"
        bodies.write_text(json.dumps(make_bodies(args.lake, args.n)))
        tree = work / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), args.baseline], check=True,
                       capture_output=True)  # fmt: skip
        try:
            base = _run_dump(tree, bodies, args.bundle.resolve(), args.lake.resolve(), work / "base.jsonl")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], check=False)
        new = _run_dump(Path.cwd(), bodies, args.bundle.resolve(), args.lake.resolve(), work / "new.jsonl")
    result = {"benchmark": "equivalence", "baseline": args.baseline, **compare(base, new)}
    print(json.dumps(result, indent=1))
    write_result(result, args.out)


if __name__ == "__main__":
    main()
