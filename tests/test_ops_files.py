"""The operations files name only metrics that pymescore exposes, and parse as their tools expect."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from pymescore.service._metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
MONITOR = {"pymescore_monitor_decisions", "pymescore_monitor_status", "pymescore_monitor_psi_score",
           "pymescore_monitor_csi", "pymescore_monitor_decision_rate", "pymescore_monitor_backtest_auc",
           "pymescore_monitor_estimated_auc", "pymescore_monitor_estimated_default_rate",
           "pymescore_monitor_expected_defaults", "pymescore_monitor_estimate_trusted",
           "pymescore_monitor_realised_auc", "pymescore_monitor_shadow_agreement",
           "pymescore_monitor_shadow_swap_share"}  # fmt: skip


def _exposed() -> set[str]:
    names = set(MONITOR)
    for metric in Metrics().registry.collect():
        for sample in metric.samples:
            names.add(sample.name)
        names.add(metric.name + ("_total" if metric.type == "counter" else ""))
        if metric.type == "histogram":
            names |= {metric.name + s for s in ("_bucket", "_sum", "_count")}
    return names


def _used(text: str) -> set[str]:
    return set(re.findall(r"\b(pymescore_[a-z_]+)", text))


def test_alert_rules_and_dashboard_use_only_exposed_metrics() -> None:
    exposed = _exposed()
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exprs = " ".join(r["expr"] for g in rules["groups"] for r in g["rules"])
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "pymescore.json").read_text())
    panel_exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    assert _used(exprs) <= exposed, _used(exprs) - exposed
    assert _used(panel_exprs) <= exposed, _used(panel_exprs) - exposed
    assert all(r["annotations"].get("action") for g in rules["groups"] for r in g["rules"])


def test_monitor_textfile_names_are_the_ones_rules_know() -> None:
    source = (Path(__file__).resolve().parents[1] / "src" / "pymescore" / "monitoring.py").read_text()
    assert _used(source) == MONITOR


def test_grafana_provisioning_points_at_the_dashboard_folder() -> None:
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "pymescore.yml").read_text())
    datasource = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "pymescore.json").read_text())
    assert provider["providers"][0]["type"] == "file"
    uid = datasource["datasources"][0]["uid"]
    assert all(p["datasource"]["uid"] == uid for p in dashboard["panels"])
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for needed in ("requests", "latency", "decisions", "score distribution", "psi", "model"):
        assert needed in titles


ROOT = Path(__file__).resolve().parents[1]


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2
    assert re.search(r"^USER 10001$", text, re.MULTILINE)  # the pymescore user, by number
    assert "HEALTHCHECK" in text
    assert "/healthz" in text
    assert "uv sync --frozen --no-dev" in text


def test_compose_runs_the_whole_stack() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"pymescore", "postgres", "mlflow", "prometheus", "grafana", "airflow", "marquez"} <= set(
        compose["services"]
    )
    airflow = compose["services"]["airflow"]["environment"]
    transport = json.loads(airflow["AIRFLOW__OPENLINEAGE__TRANSPORT"])  # Airflow's OpenLineage provider -> Marquez
    assert (transport["type"], transport["url"], transport["endpoint"]) == (
        "http",
        "http://marquez:5000",
        "api/v1/lineage",
    )
    assert airflow["PYMESCORE_OPENLINEAGE_URL"] == transport["url"]
    assert "apache-airflow-providers-openlineage" in airflow["_PIP_ADDITIONAL_REQUIREMENTS"]
    env = compose["services"]["pymescore"]["environment"]
    assert env["PYMESCORE_DATABASE_URL"].startswith("postgresql://")
    mounted = " ".join(compose["services"]["prometheus"]["volumes"])
    assert "deploy/prometheus/alerts.yml" in mounted
    serving = compose["services"][
        "tf-serving"
    ]  # serves `pymescore export --format savedmodel --out serving/pymescore/1`
    assert serving["image"].startswith("tensorflow/serving:")
    assert serving["environment"]["MODEL_NAME"] == "pymescore"
    assert serving["volumes"] == ["./serving/pymescore:/models/pymescore:ro"]


def test_kubernetes_manifests() -> None:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "pymescore.yaml").read_text()) if d]
    kinds = {d["kind"]: d for d in docs}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "PodDisruptionBudget"} <= set(kinds)
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]
    assert any("secretKeyRef" in e.get("valueFrom", {}) for e in container["env"])
    assert kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == kinds["Deployment"]["metadata"]["name"]


def test_compose_and_kubernetes_run_a_dask_cluster_the_jobs_reach() -> None:
    """A scheduler and two workers from the pymescore image (dask extra), each worker's Dask memory limit under
    its container's; the Airflow tasks get the scheduler setting and the workers the lake's path."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert compose["dask-scheduler"]["entrypoint"][:2] == ["dask", "scheduler"]
    workers = [s for name, s in compose.items() if name.startswith("dask-worker")]
    assert len(workers) == 2
    for worker in workers:
        command = worker["entrypoint"]
        assert command[:3] == ["dask", "worker", "tcp://dask-scheduler:8786"]
        assert command[command.index("--memory-limit") + 1] == "6GiB"
        assert worker["mem_limit"] == "7g"
        assert worker["build"] == compose["pymescore"]["build"]  # the image with pymescore in it
    airflow = compose["airflow"]
    assert "PYMESCORE_DASK_SCHEDULER" in airflow["environment"]
    assert "dask" in airflow["environment"]["_PIP_ADDITIONAL_REQUIREMENTS"]
    shared = {v.split(":")[1] for v in airflow["volumes"] if v.startswith("pipeline:")}
    assert shared == {v.split(":")[1] for v in workers[0]["volumes"]} == {"/opt/airflow/pymescore"}
    assert "--extra dask" in (ROOT / "Dockerfile").read_text()

    docs = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "dask.yaml").read_text()) if d]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == {"dask-scheduler", "dask-worker"}
    service = next(d for d in docs if d["kind"] == "Service")
    assert {p["port"] for p in service["spec"]["ports"]} == {8786, 8787}
    assert service["spec"]["selector"] == deployments["dask-scheduler"]["spec"]["template"]["metadata"]["labels"]
    worker = deployments["dask-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["command"][:3] == ["dask", "worker", "tcp://dask-scheduler:8786"]
    limit = worker["command"][worker["command"].index("--memory-limit") + 1]
    assert limit == "6GiB"
    assert worker["resources"]["limits"]["memory"] == "7Gi"  # room above the worker's own limit
    assert deployments["dask-worker"]["spec"]["replicas"] == 2


def test_dvc_pipeline_calls_real_commands_with_real_options() -> None:
    import subprocess
    import sys

    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert list(pipeline["stages"]) == ["simulate", "ingest", "features", "train", "evaluate"]
    for name, stage in pipeline["stages"].items():
        for ref in re.findall(r"\$\{([a-z_.]+)\}", stage["cmd"]):
            section, key = ref.split(".")
            assert key in params[section], f"{name}: ${{{ref}}} is not in params.yaml"
        words = stage["cmd"].split()
        assert words[0] == "pymescore"
        helped = subprocess.run([sys.executable, "-m", "pymescore.cli", words[1], "--help"], capture_output=True,
                                text=True, timeout=120, check=False)  # fmt: skip
        assert helped.returncode == 0, helped.stderr
        for option in (w for w in words if w.startswith("--")):
            assert option in helped.stdout, f"{name}: {option} is not an option of pymescore {words[1]}"


def test_hadolint_passes_on_the_dockerfile() -> None:
    import shutil
    import subprocess
    import sys

    binary = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    done = subprocess.run([binary, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
