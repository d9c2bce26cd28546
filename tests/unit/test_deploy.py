"""The deployment artifacts, checked offline: Dockerfile, .dockerignore, deploy/compose.yaml
(and deploy/compose/), deploy/k8s/.

- every YAML file under deploy/ passes yamllint with the repository's .yamllint.yaml;
- every Kubernetes manifest validates (strict: no unknown field) against the schemas of the
  Kubernetes releases in K8S_VERSIONS, shipped by kubernetes-validate;
- the Compose file validates against the Compose Specification's JSON schema (the copy
  check-jsonschema vendors);
- the Compose file and the manifests describe the same topology (processes, replicas, image,
  ports, probes, environment variable names, migrations, NATS cluster, databases);
- every CLOCK_* variable they (and the Dockerfile) name is a real setting of the process that
  gets it, and the values they give validate against its settings class;
- the Dockerfile: pinned base, multi-stage, numeric non-root USER, HEALTHCHECK, `clock`
  entrypoint, the ports and listening addresses of the processes.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import check_jsonschema
import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import AliasChoices
from yamllint import linter
from yamllint.config import YamlLintConfig

from clock_cli.components import COMPONENTS
from kernel.settings import normalise_database_url

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"

# The oldest Kubernetes release the manifests are meant for, and the newest the pinned
# kubernetes-validate ships schemas for.
K8S_VERSIONS = ("1.31.0", "1.37.0")
# Files of deploy/k8s that are not Kubernetes API objects of the built-in schemas: the
# kustomization, the NATS Helm chart's values, CloudNativePG's custom resources.
NOT_BUILTIN = {"kustomization.yaml", "nats-values.yaml", "postgres-cluster.yaml"}

PROCESSES = ("gateway", "membership", "catalog", "matching", "reporting")
SERVICES = PROCESSES[1:]
REPLICAS = 2
NATS_NODES = 3
IMAGE = "clock-platform"
# A process holds at most pool_size + max_overflow connections (kernel/db.py: 10 + 10).
CONNECTIONS_PER_PROCESS = 20
# What each Compose healthcheck asks: a service's readiness (database and NATS), the gateway's
# liveness (as the image's HEALTHCHECK). Kubernetes probes both on every process.
COMPOSE_HEALTHCHECK_PATH = {"gateway": "/healthz"} | {name: "/readyz" for name in SERVICES}
UID = 10001


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


@cache
def k8s_documents() -> tuple[tuple[str, dict[str, Any]], ...]:
    """(file name, document) of every Kubernetes object kustomize applies."""
    return tuple(
        (path.name, doc)
        for path in sorted(K8S.glob("*.yaml"))
        if path.name not in NOT_BUILTIN
        for doc in load_yaml_documents(path)
    )


def k8s_objects(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in k8s_documents() if doc["kind"] == kind}


def deployment_container(name: str) -> dict[str, Any]:
    (container,) = k8s_objects("Deployment")[name]["spec"]["template"]["spec"]["containers"]
    return container


def env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of a Docker env file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=value: {line!r}"
            values[key] = value
    return values


def compose_clock_services() -> dict[str, dict[str, Any]]:
    """Compose services that run the CLOCK image (the processes and `migrate`)."""
    assert compose_image().startswith(IMAGE + ":")
    image = compose()["services"]["migrate"]["image"]
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("image") == image
    }


def compose_processes() -> dict[str, dict[str, Any]]:
    """Compose service of each `clock serve <process>`, by process."""
    processes = {}
    for service in compose_clock_services().values():
        command = service.get("command", [])
        if command[:1] == ["serve"]:
            processes[command[1]] = service
    return processes


def compose_image() -> str:
    """The CLOCK image of the Compose file, its `${CLOCK_IMAGE:-default}` resolved."""
    image = compose()["services"]["migrate"]["image"]
    match = re.fullmatch(r"\$\{CLOCK_IMAGE:-(.+)\}", image)
    return match.group(1) if match else image


def compose_environment(service: Mapping[str, Any]) -> dict[str, str]:
    """What a Compose service's container gets: its env files' examples, then `environment`."""
    env: dict[str, str] = {}
    for name in service.get("env_file", []):
        env.update(env_file(DEPLOY / f"{name}.example"))
    env.update({key: str(value) for key, value in service.get("environment", {}).items()})
    return env


def k8s_environment(container: Mapping[str, Any]) -> dict[str, str | None]:
    """What a container gets: envFrom ConfigMaps and Secrets of the manifests, then `env`
    (a value from a ConfigMap key is resolved; from a Secret outside them, None)."""
    config_maps = {name: doc["data"] for name, doc in k8s_objects("ConfigMap").items()}
    secrets = {name: doc["stringData"] for name, doc in k8s_objects("Secret").items()}
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]])
        else:
            env.update(secrets[source["secretRef"]["name"]])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "configMapKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["configMapKeyRef"]
            env[item["name"]] = config_maps[ref["name"]][ref["key"]]
        else:
            env[item["name"]] = None
    return env


def settings_class(process: str) -> Any:
    component = COMPONENTS[process]
    module = __import__(f"{component.package}.settings", fromlist=[component.settings_class])
    return getattr(module, component.settings_class)


def setting_names(cls: Any) -> set[str]:
    """The environment variables a pydantic settings class reads: each field's
    validation_alias, or the prefix and the field's name."""
    prefix = cls.model_config.get("env_prefix", "")
    names = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


@cache
def all_setting_names() -> frozenset[str]:
    return frozenset(
        name for process in PROCESSES for name in setting_names(settings_class(process))
    )


# --- Dockerfile and .dockerignore -----------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    instructions, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not current):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, arguments = current.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return instructions


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, arguments))
    return stages


def dockerfile_env() -> dict[str, str]:
    env = {}
    for keyword, arguments in dockerfile_stages()[-1]:
        if keyword == "ENV":
            for pair in shlex.split(arguments):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def dockerfile_exec_form(keyword: str) -> list[str]:
    (arguments,) = [a for k, a in dockerfile_stages()[-1] if k == keyword]
    if keyword == "HEALTHCHECK":
        arguments = arguments.split(" CMD ", 1)[1]
    value = json.loads(arguments)  # a shell form would not be JSON
    assert isinstance(value, list) and all(isinstance(item, str) for item in value)
    return value


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


@cache
def dockerignore_patterns() -> tuple[tuple[bool, re.Pattern[str]], ...]:
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").strip("/")
        patterns.append((negated, _glob_regex(pattern)))
    return tuple(patterns)


def dockerignored(path: str) -> bool:
    """Docker's rule: the last pattern matching the path, or a folder above it, decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, regex in dockerignore_patterns():
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


def test_dockerfile_base_is_pinned_and_multi_stage() -> None:
    instructions = dockerfile_instructions()
    args = dict(a.split("=", 1) for k, a in instructions if k == "ARG" and "=" in a)
    bases = [a.split()[0] for k, a in instructions if k == "FROM"]
    assert len(bases) >= 2, "a build stage and a runtime stage"
    resolved = {re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base) for base in bases}
    assert len(resolved) == 1, f"one base for every stage: {resolved}"
    (base,) = resolved
    # A full release (python:3.11.7-slim-bookworm), optionally with its digest; never latest.
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", base), base
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(part) for part in requires.removeprefix(">=").split("."))
    assert tuple(int(part) for part in base.split(":")[1].split("-")[0].split(".")) >= minimum
    runtime = dockerfile_stages()[-1]
    copies = [a for k, a in runtime if k == "COPY"]
    assert copies and all(a.startswith("--from=") for a in copies), "runtime takes the venv only"
    assert "digest" in DOCKERFILE.read_text(), "say that production pins the digest"


def test_dockerfile_runs_clock_as_a_numeric_non_root_user() -> None:
    runtime = dockerfile_stages()[-1]
    (user,) = [a for k, a in runtime if k == "USER"]
    uid, _, gid = user.partition(":")
    # Numeric: Kubernetes' runAsNonRoot can check it only then.
    assert uid.isdigit() and int(uid) == UID and (not gid or int(gid) > 0)
    assert any(k == "RUN" and f"--uid {uid}" in a for k, a in runtime), "the user exists"
    keywords = [k for k, _ in runtime]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")
    assert dockerfile_exec_form("ENTRYPOINT") == ["clock"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["clock"] == "clock_cli.main:main"
    assert dockerfile_exec_form("CMD") == ["serve", "gateway"]


def test_dockerfile_healthcheck_asks_the_process_healthz() -> None:
    command = dockerfile_exec_form("HEALTHCHECK")
    assert command[:2] == ["python", "-c"]
    code = command[2]
    compile(code, "HEALTHCHECK", "exec")  # valid Python once the JSON is decoded
    assert "/healthz" in code and "'serve'" in code and "COMPONENTS" in code
    assert "curl" not in code and "wget" not in code


def test_dockerfile_processes_listen_on_every_interface_on_their_ports() -> None:
    env = dockerfile_env()
    exposed = {int(p) for k, a in dockerfile_stages()[-1] if k == "EXPOSE" for p in a.split()}
    ports = set()
    for process in PROCESSES:
        fields = settings_class(process).model_fields
        assert env[fields["host"].validation_alias] == "0.0.0.0"
        ports.add(fields["port"].default)
    assert exposed == ports
    assert "/opt/clock/bin" in env["PATH"].split(":")[0]


def test_dockerignore_keeps_the_sources_and_nothing_else() -> None:
    for keyword, arguments in dockerfile_stages()[0]:
        if keyword == "COPY":
            *sources, _ = arguments.split()
            for source in sources:
                assert not dockerignored(source.rstrip("/")), source
    for package in ("kernel", "gateway", "services", "clock_cli"):
        files = [
            path.relative_to(ROOT).as_posix()
            for path in (ROOT / package).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        ]
        assert files and not [f for f in files if dockerignored(f)], package
    for path in (
        ".venv/bin/python",
        "var/gateway.db",
        ".git/HEAD",
        "tests/unit/test_deploy.py",
        "docs/benchmarks.md",
        "deploy/compose/clock.env",
        "Dockerfile",
        "kernel/__pycache__/settings.cpython-311.pyc",
        "services/catalog/.pytest_cache/v/x",
        "clock_platform.egg-info/PKG-INFO",
    ):
        assert dockerignored(path), path


# --- YAML lint ------------------------------------------------------------------------------


def yaml_files() -> list[Path]:
    files = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))
    return [*files, ROOT / ".yamllint.yaml"]


@cache
def yamllint_config() -> YamlLintConfig:
    return YamlLintConfig(file=str(ROOT / ".yamllint.yaml"))


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_yamllint(path: Path) -> None:
    problems = list(linter.run(path.read_text(), yamllint_config(), str(path)))
    assert not problems, "\n".join(f"{path.name}:{p.line}:{p.column} {p}" for p in problems)


def test_yamllint_config_is_in_force() -> None:
    text = "key: yes\nlong: " + "x" * 120 + "\n"
    rules = {p.rule for p in linter.run(text, yamllint_config())}
    assert {"truthy", "line-length"} <= rules
    assert len(yaml_files()) >= 10


# --- Kubernetes -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_k8s_manifests_validate(version: str) -> None:
    documents = k8s_documents()
    assert len(documents) >= 30
    errors = []
    for file, doc in documents:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{file}: {doc['kind']}/{doc['metadata']['name']}: {exc}")
        # Each file can be applied alone too (`kubectl apply -f deploy/k8s/migrate-job.yaml`).
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "clock", file
    assert not errors, "\n".join(errors)


def test_k8s_strict_validation_refuses_an_unknown_field() -> None:
    deployment = copy.deepcopy(k8s_objects("Deployment")["gateway"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["namespace"] == "clock"
    manifests = {p.name for p in K8S.glob("*.yaml")} - NOT_BUILTIN
    assert sorted(kustomization["resources"]) == sorted(manifests)
    assert not [p for p in K8S.iterdir() if p.suffix not in (".yaml",)]
    (image,) = kustomization["images"]
    assert image["name"] == IMAGE
    assert f"{image['newName']}:{image['newTag']}" == compose_image()


def test_k8s_pods_are_restricted_and_bounded() -> None:
    templates = [doc["spec"]["template"] for doc in k8s_objects("Deployment").values()]
    templates += [doc["spec"]["template"] for doc in k8s_objects("Job").values()]
    assert len(templates) == len(PROCESSES) + 2  # and Redis, and the migrations
    for template in templates:
        spec = template["spec"]
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound])
            if container["image"].startswith(IMAGE + ":"):
                # The Dockerfile's user; nothing written but /tmp (CLOCK_DATA_DIR unused).
                assert pod["runAsUser"] == UID
                assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}


def test_k8s_every_process_is_spread_budgeted_and_autoscaled() -> None:
    pdbs = k8s_objects("PodDisruptionBudget")
    hpas = k8s_objects("HorizontalPodAutoscaler")
    for process in PROCESSES:
        deployment = k8s_objects("Deployment")[process]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items()
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert any(
            c["topologyKey"] == "kubernetes.io/hostname"
            and c["labelSelector"]["matchLabels"] == selector
            for c in spread
        )
        assert pdbs[process]["spec"]["minAvailable"] == 1
        assert pdbs[process]["spec"]["selector"]["matchLabels"] == selector
        hpa = hpas[process]["spec"]
        assert hpa["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": process,
        }
        assert hpa["minReplicas"] == REPLICAS < hpa["maxReplicas"]
        (metric,) = hpa["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["averageUtilization"] == 70
        (service,) = [
            s for s in k8s_objects("Service").values() if s["metadata"]["name"] == process
        ]
        assert service["spec"]["selector"] == selector


def test_k8s_secret_holds_placeholders_only() -> None:
    for secret in k8s_objects("Secret").values():
        assert "data" not in secret
        for key, value in secret["stringData"].items():
            assert value.startswith("change-me"), f"{key}: a real secret must not be committed"


def test_postgres_cluster_matches_the_database_urls() -> None:
    docs = load_yaml_documents(K8S / "postgres-cluster.yaml")
    assert {doc["apiVersion"] for doc in docs} == {"postgresql.cnpg.io/v1"}
    (cluster,) = [doc for doc in docs if doc["kind"] == "Cluster"]
    assert cluster["spec"]["instances"] == 3
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    owner = initdb["owner"]
    databases = {initdb["database"]}
    for doc in docs:
        if doc["kind"] == "Database":
            assert doc["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
            assert doc["spec"]["owner"] == owner
            databases.add(doc["spec"]["name"])
    assert databases == {f"clock_{process}" for process in PROCESSES}
    name = cluster["metadata"]["name"]
    for process in PROCESSES:
        url = urlsplit(k8s_environment(deployment_container(process))[database_url(process)] or "")
        assert (url.scheme, url.username, url.password) == ("postgresql", owner, None)
        assert (url.hostname, url.port) == (f"{name}-rw.clock.svc", 5432)
    # The password comes from the Secret the operator keeps for the owner (<cluster>-app).
    for container in [deployment_container(p) for p in PROCESSES] + [migrate_container()]:
        (password,) = [e for e in container["env"] if e["name"] == "PGPASSWORD"]
        assert password["valueFrom"]["secretKeyRef"] == {"name": f"{name}-app", "key": "password"}
    # Every replica the autoscalers may start, with all its connections.
    budget = sum(h["spec"]["maxReplicas"] for h in k8s_objects("HorizontalPodAutoscaler").values())
    budget = (budget + 1) * CONNECTIONS_PER_PROCESS
    assert budget <= int(cluster["spec"]["postgresql"]["parameters"]["max_connections"]) - 10


def test_nats_values_make_the_cluster_the_services_use() -> None:
    values = yaml.safe_load((K8S / "nats-values.yaml").read_text())
    config = values["config"]
    assert config["cluster"] == {"enabled": True, "replicas": NATS_NODES}
    store = config["jetstream"]["fileStore"]
    assert config["jetstream"]["enabled"] and store["enabled"] and store["pvc"]["enabled"]
    urls = k8s_objects("ConfigMap")["clock-services"]["data"]["CLOCK_NATS_URL"].split(",")
    # The Helm release `nats` in the namespace `clock` makes the Service nats.
    assert [(urlsplit(u).hostname, urlsplit(u).port) for u in urls] == [("nats.clock.svc", 4222)]


# --- Network policies -----------------------------------------------------------------------


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        present = labels.get(expression["key"])
        if expression["operator"] == "In" and present not in expression["values"]:
            return False
        if expression["operator"] == "Exists" and present is None:
            return False
    return True


def pod_labels(name: str) -> dict[str, str]:
    workloads = k8s_objects("Deployment") | k8s_objects("Job")
    labels = workloads[name]["spec"]["template"]["metadata"]["labels"]
    assert isinstance(labels, dict)
    return labels


NATS_POD = {"app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "nats"} | {
    "app.kubernetes.io/component": "nats"
}
POSTGRES_POD = {"cnpg.io/cluster": "clock-pg"}


def peer_allowed(peers: list[dict[str, Any]], labels: Mapping[str, str], namespace: str) -> bool:
    namespace_labels = {"kubernetes.io/metadata.name": namespace}
    for peer in peers:
        if "ipBlock" in peer:
            return True
        namespace_ok = (
            selects(peer["namespaceSelector"], namespace_labels)
            if "namespaceSelector" in peer
            else namespace == "clock"
        )
        if namespace_ok and selects(peer.get("podSelector", {}), labels):
            return True
    return False


def port_allowed(ports: list[dict[str, Any]] | None, port: int | str) -> bool:
    return ports is None or any(p["port"] == port for p in ports)


def traffic_allowed(
    source: Mapping[str, str], destination: Mapping[str, str], port: int | str, namespace: str
) -> bool:
    """Whether the policies let `source` pods (in `namespace`) reach `destination` pods (in
    clock) on `port` (a number, or the destination container port's name)."""
    policies = list(k8s_objects("NetworkPolicy").values())

    def allowed(direction: str, selected: Mapping[str, str], peer: Mapping[str, str]) -> bool:
        applying = [
            p["spec"]
            for p in policies
            if direction.capitalize() in p["spec"]["policyTypes"]
            and selects(p["spec"]["podSelector"], selected)
        ]
        if not applying:
            return True
        key = "from" if direction == "ingress" else "to"
        peer_namespace = namespace if direction == "ingress" else "clock"
        return any(
            port_allowed(rule.get("ports"), port)
            and (key not in rule or peer_allowed(rule[key], peer, peer_namespace))
            for spec in applying
            for rule in spec.get(direction, [])
        )

    egress_ok = namespace != "clock" or allowed("egress", source, destination)
    return egress_ok and allowed("ingress", destination, source)


def test_network_policies_let_the_platform_work_and_nothing_more() -> None:
    default_deny = k8s_objects("NetworkPolicy")["default-deny-ingress"]["spec"]
    assert default_deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    gateway, migrate = pod_labels("gateway"), pod_labels("clock-migrate")
    controller = {"app.kubernetes.io/name": "ingress-nginx"}
    assert traffic_allowed(controller, gateway, "http", "ingress-nginx")
    assert not traffic_allowed(controller, gateway, "http", "default")
    # Any other pod of the namespace (no egress policy of ours selects it) is refused by
    # every destination's ingress policies.
    stranger = {"app": "debug"}
    destinations: list[tuple[dict[str, str], int | str]] = [
        (gateway, "http"),
        (pod_labels("redis"), 6379),
        (NATS_POD, 4222),
        (POSTGRES_POD, 5432),
        *[(pod_labels(service), "http") for service in SERVICES],
    ]
    for destination, port in destinations:
        assert not traffic_allowed(stranger, destination, port, "clock"), destination
    for service in SERVICES:
        labels = pod_labels(service)
        assert traffic_allowed(gateway, labels, "http", "clock")
        assert not traffic_allowed(controller, labels, "http", "ingress-nginx")
        assert not traffic_allowed(migrate, labels, "http", "clock")
        for other in SERVICES:
            assert not traffic_allowed(pod_labels(other), labels, "http", "clock")
        assert traffic_allowed(labels, NATS_POD, 4222, "clock")
        assert traffic_allowed(labels, POSTGRES_POD, 5432, "clock")
        assert not traffic_allowed(labels, pod_labels("redis"), 6379, "clock")
        assert traffic_allowed({}, labels, "http", "monitoring")  # Prometheus
    assert traffic_allowed(gateway, pod_labels("redis"), 6379, "clock")
    assert traffic_allowed(gateway, POSTGRES_POD, 5432, "clock")
    assert not traffic_allowed(gateway, NATS_POD, 4222, "clock")
    assert traffic_allowed(migrate, POSTGRES_POD, 5432, "clock")
    assert not traffic_allowed(migrate, NATS_POD, 4222, "clock")
    assert traffic_allowed(NATS_POD, NATS_POD, 6222, "clock")
    assert traffic_allowed(POSTGRES_POD, POSTGRES_POD, 5432, "clock")
    operator = {"app.kubernetes.io/name": "cloudnative-pg"}
    assert traffic_allowed(operator, POSTGRES_POD, 8000, "cnpg-system")


def test_ingress_routes_the_api_to_the_gateway_but_not_its_metrics() -> None:
    (ingress,) = k8s_objects("Ingress").values()
    (rule,) = ingress["spec"]["rules"]
    paths = {p["path"] for p in rule["http"]["paths"]}
    assert "/api" in paths and not any(p in ("/", "/metrics") for p in paths)
    for path in rule["http"]["paths"]:
        assert path["backend"]["service"] == {"name": "gateway", "port": {"name": "http"}}


# --- Compose --------------------------------------------------------------------------------


@cache
def compose_schema() -> dict[str, Any]:
    path = Path(check_jsonschema.__file__).parent / "builtin_schemas/vendor/compose-spec.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    assert schema["title"] == "Compose Specification"
    return schema


def compose_errors(document: Mapping[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification() -> None:
    assert "version" not in compose()
    assert compose_errors(compose()) == []
    broken = copy.deepcopy(compose())
    broken["services"]["gateway"]["deploy"]["replica"] = 2
    assert compose_errors(broken), "the schema must refuse an unknown key"


def test_compose_env_files_have_examples_with_placeholders() -> None:
    referenced = {f for s in compose()["services"].values() for f in s.get("env_file", [])}
    assert referenced == {"compose/clock.env", "compose/postgres.env"}
    examples = {name: env_file(DEPLOY / f"{name}.example") for name in referenced}
    secrets = {
        key: value
        for values in examples.values()
        for key, value in values.items()
        if re.search("SECRET|PASSWORD", key)
    }
    assert {"CLOCK_PRINCIPAL_SECRET", "PGPASSWORD", "POSTGRES_PASSWORD"} <= set(secrets)
    assert all(value.startswith("change-me") for value in secrets.values()), secrets
    # The role postgres-init.sh creates is the one every process logs in with.
    clock_env, postgres_env = examples["compose/clock.env"], examples["compose/postgres.env"]
    assert clock_env["PGPASSWORD"] == postgres_env["POSTGRES_CLOCK_PASSWORD"]
    # The copies with the real secrets are ignored by git, the examples are not.
    ignored = (DEPLOY / "compose" / ".gitignore").read_text().splitlines()
    for name in referenced:
        file = Path(name).name
        assert any(fnmatch.fnmatch(file, pattern) for pattern in ignored), file
        assert not any(fnmatch.fnmatch(f"{file}.example", pattern) for pattern in ignored)


def test_compose_postgres_init_creates_the_role_and_databases_of_the_urls() -> None:
    script = (DEPLOY / "compose" / "postgres-init.sh").read_text()
    created = set(re.findall(r"CREATE DATABASE (\w+) OWNER (\w+);", script))
    (role,) = re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD", script)
    urls = {
        process: urlsplit(compose_environment(service)[database_url(process)])
        for process, service in compose_processes().items()
    }
    assert created == {(url.path.lstrip("/"), role) for url in urls.values()}
    for url in urls.values():
        assert (url.scheme, url.username, url.password) == ("postgresql", role, None)
        assert (url.hostname, url.port) == ("postgres", 5432)
    postgres = compose()["services"]["postgres"]
    mounts = [v.split(":") for v in postgres["volumes"]]
    assert ["./compose/postgres-init.sh", "/docker-entrypoint-initdb.d/10-clock.sh", "ro"] in mounts
    (max_connections,) = re.findall(r"max_connections=(\d+)", " ".join(postgres["command"]))
    processes = sum(s["deploy"]["replicas"] for s in compose_processes().values()) + 1
    assert processes * CONNECTIONS_PER_PROCESS <= int(max_connections) - 10


def test_compose_nats_is_a_three_node_jetstream_cluster() -> None:
    nodes = {
        name: service
        for name, service in compose()["services"].items()
        if service.get("image", "").startswith("nats:")
    }
    assert len(nodes) == NATS_NODES
    config = (DEPLOY / "compose" / "nats.conf").read_text()
    assert re.search(r"^jetstream \{[^}]*store_dir: \"/data\"", config, re.M)
    routes = re.findall(r"nats-route://([\w-]+):6222", config)
    assert sorted(routes) == sorted(nodes)
    for name, service in nodes.items():
        command = service["command"]
        assert command[command.index("--name") + 1] == name
        assert any(v.endswith(":/data") for v in service["volumes"])
        assert any(v.startswith("./compose/nats.conf:") for v in service["volumes"])
        assert "/healthz" in " ".join(service["healthcheck"]["test"])
        assert name in compose()["volumes"]


def test_compose_only_nginx_is_published_and_it_fronts_the_gateway() -> None:
    services = compose()["services"]
    published = {name for name, service in services.items() if "ports" in service}
    assert published == {"nginx"}
    assert services["nginx"]["networks"] == ["edge"]
    assert compose()["networks"]["backend"]["internal"] is True
    for name, service in services.items():
        if name not in ("nginx", "gateway"):
            assert service["networks"] == ["backend"], name
    config = (DEPLOY / "compose" / "nginx.conf").read_text()
    (upstream,) = re.findall(r"server gateway:(\d+)", config)
    assert int(upstream) == settings_class("gateway").model_fields["port"].default
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in config
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in config
    assert re.search(r"location = /metrics \{\s*return 404;", config)
    assert compose_environment(services["gateway"])["FORWARDED_ALLOW_IPS"] == "*"
    assert services["gateway"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_compose_clock_containers_are_read_only_and_bounded() -> None:
    clock = compose_clock_services()
    assert set(clock) == {*PROCESSES, "migrate"}
    for name, service in clock.items():
        assert service["read_only"] is True and service["tmpfs"] == ["/tmp"], name
        assert service["cap_drop"] == ["ALL"], name
        assert {"cpus", "memory"} <= set(service["deploy"]["resources"]["limits"]), name
        assert "entrypoint" not in service, name
    for name, service in compose()["services"].items():
        assert "limits" in service["deploy"]["resources"], name


# --- The same topology ----------------------------------------------------------------------


def database_url(process: str) -> str:
    alias = settings_class(process).model_fields["database_url"].validation_alias
    assert isinstance(alias, str)
    return alias


def migrate_container() -> dict[str, Any]:
    (container,) = k8s_objects("Job")["clock-migrate"]["spec"]["template"]["spec"]["containers"]
    return container


def probe_url(healthcheck: Mapping[str, Any]) -> tuple[int, str]:
    (match,) = re.findall(r"http://127\.0\.0\.1:(\d+)(/\w+)", " ".join(healthcheck["test"]))
    return int(match[0]), match[1]


def memory_mib(value: str) -> int:
    """MiB of a Kubernetes quantity (Mi, Gi) or a Compose byte value (M, G: binary too)."""
    match = re.fullmatch(r"(\d+)(Mi|M|Gi|G)", value)
    assert match, value
    return int(match.group(1)) * (1024 if match.group(2).startswith("G") else 1)


def test_compose_and_k8s_run_the_same_processes() -> None:
    assert set(COMPONENTS) == set(PROCESSES)
    deployments = {
        name: doc
        for name, doc in k8s_objects("Deployment").items()
        if deployment_container(name)["image"].startswith(IMAGE + ":")
    }
    assert set(compose_processes()) == set(deployments) == set(PROCESSES)
    for process, service in compose_processes().items():
        container = deployment_container(process)
        assert service["command"] == container["args"] == ["serve", process]
        assert "command" not in container  # the image's ENTRYPOINT: clock
        assert service["deploy"]["replicas"] == deployments[process]["spec"]["replicas"]
        assert deployments[process]["spec"]["replicas"] == REPLICAS
        assert container["image"] == compose_image()
        limits = container["resources"]["limits"]
        compose_limits = service["deploy"]["resources"]["limits"]
        assert memory_mib(limits["memory"]) == memory_mib(compose_limits["memory"]), process
        assert float(limits["cpu"]) == float(compose_limits["cpus"]), process


def test_compose_and_k8s_use_the_same_ports_and_probes() -> None:
    services = k8s_objects("Service")
    for process, service in compose_processes().items():
        port = settings_class(process).model_fields["port"].default
        assert service["expose"] == [str(port)]
        assert probe_url(service["healthcheck"]) == (port, COMPOSE_HEALTHCHECK_PATH[process])
        container = deployment_container(process)
        assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        assert services[process]["spec"]["ports"][0]["port"] == port
        assert services[process]["spec"]["ports"][0]["targetPort"] == "http"
        probes = {
            kind: (container[kind]["httpGet"]["path"], container[kind]["httpGet"]["port"])
            for kind in ("startupProbe", "livenessProbe", "readinessProbe")
        }
        assert probes == {
            "startupProbe": ("/healthz", "http"),
            "livenessProbe": ("/healthz", "http"),
            "readinessProbe": ("/readyz", "http"),
        }
        assert COMPOSE_HEALTHCHECK_PATH[process] in {path for path, _ in probes.values()}
    # The gateway finds each service at its name and port, on both.
    compose_gateway = compose_environment(compose_processes()["gateway"])
    k8s_gateway = k8s_environment(deployment_container("gateway"))
    for process in SERVICES:
        port = settings_class(process).model_fields["port"].default
        setting = f"CLOCK_{process.upper()}_URL"
        assert setting in setting_names(settings_class("gateway"))
        assert urlsplit(compose_gateway[setting])[1] == f"{process}:{port}"
        assert urlsplit(k8s_gateway[setting] or "")[1] == f"{process}.clock.svc:{port}"


def test_compose_and_k8s_give_each_process_the_same_variables() -> None:
    for process, service in compose_processes().items():
        compose_names = set(compose_environment(service))
        k8s_names = set(k8s_environment(deployment_container(process)))
        assert compose_names == k8s_names, (
            f"{process}: only in compose {sorted(compose_names - k8s_names)}, "
            f"only in k8s {sorted(k8s_names - compose_names)}"
        )
        assert database_url(process) in compose_names
        assert "PGPASSWORD" in compose_names and "CLOCK_PRINCIPAL_SECRET" in compose_names


def test_compose_and_k8s_migrate_every_database_once() -> None:
    service = compose()["services"]["migrate"]
    container = migrate_container()
    assert service["command"] == container["args"] == ["migrate"]
    assert container["image"] == compose_image()
    assert service["restart"] == "no"
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    urls = {database_url(process) for process in PROCESSES}
    compose_env, k8s_env = compose_environment(service), k8s_environment(container)
    assert {k for k in compose_env if k.endswith("_DATABASE_URL")} == urls
    assert {k for k in k8s_env if k.endswith("_DATABASE_URL")} == urls
    assert "PGPASSWORD" in compose_env and "PGPASSWORD" in k8s_env
    for process in PROCESSES:
        # The migrations and the process use the same database.
        assert compose_env[database_url(process)] == compose_environment(
            compose_processes()[process]
        ).get(database_url(process))
        assert (
            k8s_env[database_url(process)]
            == k8s_environment(deployment_container(process))[database_url(process)]
        )
    job = k8s_objects("Job")["clock-migrate"]["spec"]
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    for process, compose_service in compose_processes().items():
        depends = compose_service["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", process
        assert depends["postgres"]["condition"] == "service_healthy", process
        if process != "gateway":
            for node in ("nats-1", "nats-2", "nats-3"):
                assert depends[node]["condition"] == "service_healthy", process


def test_compose_and_k8s_use_a_three_replica_nats_cluster() -> None:
    nodes = sorted(n for n, s in compose()["services"].items() if s["image"].startswith("nats:"))
    for process in SERVICES:
        compose_env = compose_environment(compose_processes()[process])
        k8s_env = k8s_environment(deployment_container(process))
        assert compose_env["CLOCK_STREAM_REPLICAS"] == k8s_env["CLOCK_STREAM_REPLICAS"] == "3"
        urls = [urlsplit(url) for url in compose_env["CLOCK_NATS_URL"].split(",")]
        assert sorted((u.scheme, u.hostname, u.port) for u in urls) == [
            ("nats", node, 4222) for node in nodes
        ]
        assert int(compose_env["CLOCK_STREAM_REPLICAS"]) <= len(nodes) == NATS_NODES


# --- The settings are real ------------------------------------------------------------------


def deploy_texts() -> Iterator[tuple[str, str]]:
    for path in [DOCKERFILE, *sorted(p for p in DEPLOY.rglob("*") if p.is_file())]:
        if path.name != "README.md":
            yield path.relative_to(ROOT).as_posix(), path.read_text()


def test_setting_names_are_read_from_the_settings_classes() -> None:
    assert {"CLOCK_GATEWAY_RATE_LIMIT_STORAGE", "CLOCK_CATALOG_URL"} <= setting_names(
        settings_class("gateway")
    )
    assert "CLOCK_LEASE_TTL" not in setting_names(settings_class("gateway"))
    catalog = setting_names(settings_class("catalog"))
    assert {"CLOCK_LEASE_TTL", "CLOCK_CATALOG_DATABASE_URL", "CLOCK_NATS_URL"} <= catalog
    assert "CLOCK_DATABASE_URL" not in catalog  # the alias, not the field's name


def test_every_clock_variable_named_is_a_real_setting() -> None:
    unknown = {
        (file, name)
        for file, text in deploy_texts()
        for name in re.findall(r"\bCLOCK_[A-Z0-9_]*[A-Z0-9]\b", text)
        if name not in all_setting_names() and name != "CLOCK_IMAGE"  # compose's own variable
    }
    assert not unknown, sorted(unknown)


def test_every_process_gets_only_its_own_settings() -> None:
    for process in PROCESSES:
        names = setting_names(settings_class(process))
        given = set(compose_environment(compose_processes()[process]))
        given |= set(k8s_environment(deployment_container(process)))
        foreign = {n for n in given if n.startswith("CLOCK_") and n not in names}
        assert not foreign, f"{process} does not read {sorted(foreign)}"


@pytest.mark.parametrize("platform", ["compose", "k8s"])
@pytest.mark.parametrize("process", PROCESSES)
def test_each_process_accepts_its_environment(
    process: str, platform: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("CLOCK_"):
            monkeypatch.delenv(name)
    if platform == "compose":
        env: Mapping[str, str | None] = compose_environment(compose_processes()[process])
    else:
        env = k8s_environment(deployment_container(process))
    for name, value in {**dockerfile_env(), **env}.items():
        if name.startswith("CLOCK_"):
            assert value is not None, name
            monkeypatch.setenv(name, value)
    settings = COMPONENTS[process].settings()
    assert settings.host == "0.0.0.0"
    assert settings.port == settings_class(process).model_fields["port"].default
    assert settings.sqlalchemy_url.startswith("postgresql+asyncpg://clock@")
    assert settings.sqlalchemy_url == normalise_database_url(env[database_url(process)] or "")
    assert settings.principal_secret and settings.principal_secret.startswith("change-me")
    if process == "gateway":
        assert settings.rate_limit_storage.startswith("redis://")
        assert set(settings.upstreams()) == set(SERVICES)
    else:
        assert settings.stream_replicas == NATS_NODES
        assert settings.nats_url.startswith("nats://")
