"""The operator resources in deploy/k8s agree with the code and with the schemas that would judge them.

No cluster runs here, so each kustomization (base, production overlay), as shipped and with the
optional components enabled, is rendered (tests/unit/k8s_render.py) and checked offline:
- every built-in object against Kubernetes' own OpenAPI schemas (kubernetes-validate, strict:
  unknown fields fail), every custom resource against the CRD-derived JSON Schemas in
  tests/data/k8s-schemas/ (KEDA, Strimzi, Prometheus Operator);
- the KafkaTopics against `topic_specs` for the settings the overlay sets;
- the worker's KEDA trigger against its consumer group, topic, partitions and Kafka login;
- every metric name in an alert or a dashboard panel against the metrics the code defines.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import promql_parser
import pytest
import yaml

from streams.access import SERVICE_ACCESS
from streams.settings import Settings
from streams.topics import Topics, topic_specs
from tests.unit.k8s_render import (
    COMPONENTS,
    K8S,
    KUSTOMIZATIONS,
    ROOT,
    Doc,
    acl_grants,
    of_kind,
    render,
    with_components,
)

SCHEMAS = ROOT / "tests" / "data" / "k8s-schemas"
#: The oldest Kubernetes Haven's manifests are meant for, and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
#: Metric names from outside the code: Prometheus' own and kube-state-metrics'.
EXTERNAL_METRICS = {"up", "kube_pod_status_ready"}
#: Each kustomization as shipped, and with every optional component enabled.
VARIANTS = [*((name, ()) for name in KUSTOMIZATIONS), *((name, COMPONENTS) for name in KUSTOMIZATIONS)]
#: Deployments that serve no HTTP: nothing to probe or scrape (test_deploy_manifests.py).
WITHOUT_HTTP = {"screener-shadow"}


def _variant_id(variant: tuple[str, tuple[str, ...]]) -> str:
    return "+".join((variant[0], *variant[1]))


def _kustomization_dir(variant: tuple[str, tuple[str, ...]], directory: Path) -> Path:
    name, components = variant
    return with_components(name, components, directory) if components else K8S / name


@pytest.fixture(scope="module", params=VARIANTS, ids=_variant_id)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[Doc]:
    return render(_kustomization_dir(request.param, tmp_path_factory.mktemp("k8s")))


def _config(docs: list[Doc]) -> dict[str, str]:
    return of_kind(docs, "ConfigMap")["haven-config"]["data"]  # type: ignore[no-any-return]


def _settings(config: dict[str, str]) -> Settings:
    """The settings a pod gets from haven-config, less the Kafka login (its files exist only in the pod)."""
    return Settings.from_env({key: value for key, value in config.items() if not key.startswith("HAVEN_KAFKA_")})


def _is_builtin(doc: Doc) -> bool:
    group = doc["apiVersion"].rpartition("/")[0]
    return group == "" or group.endswith(".k8s.io") or "." not in group


def _crd_schema(doc: Doc) -> dict[str, Any]:
    group_version = doc["apiVersion"].replace("/", "-")
    path = SCHEMAS / f"{doc['kind'].lower()}-{group_version}.json"
    assert path.is_file(), f"no schema for {doc['kind']} {doc['apiVersion']}: write {path.name} from its CRD"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


# --- rendering ---------------------------------------------------------------------------------


def _kustomize_binary() -> str | None:
    return os.environ.get("HAVEN_KUSTOMIZE") or shutil.which("kustomize")


@pytest.mark.parametrize("variant", VARIANTS, ids=_variant_id)
def test_the_renderer_gives_what_kustomize_gives(variant: tuple[str, tuple[str, ...]], tmp_path: Path) -> None:
    # `make test` builds kustomize from the Go module proxy and sets HAVEN_KUSTOMIZE; never skipped.
    assert _kustomize_binary() is not None, "no kustomize binary: run the suite with `make test`"
    directory = _kustomization_dir(variant, tmp_path)
    built = subprocess.run(
        [str(_kustomize_binary()), "build", str(directory)], capture_output=True, text=True, check=True
    ).stdout
    theirs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(built) if d}
    ours = {(d["kind"], d["metadata"]["name"]): d for d in render(directory)}
    assert ours == theirs


# --- schemas -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_built_in_object_is_valid_for_kubernetes(rendered: list[Doc], version: str) -> None:
    builtins = [doc for doc in rendered if _is_builtin(doc)]
    assert {doc["kind"] for doc in builtins} >= {"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler"}
    for doc in builtins:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} (Kubernetes {version}): {exc.path}: {exc.message}")


def test_every_custom_resource_is_valid_for_its_crd(rendered: list[Doc]) -> None:
    custom = [doc for doc in rendered if not _is_builtin(doc)]
    assert {doc["kind"] for doc in custom} == {
        "KafkaTopic",
        "KafkaUser",
        "ScaledObject",
        "TriggerAuthentication",
        "PodMonitor",
        "PrometheusRule",
    }
    for doc in custom:
        schema = _crd_schema(doc)
        jsonschema.Draft202012Validator.check_schema(schema)
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
        assert not errors, f"{doc['kind']}/{doc['metadata']['name']}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
        )


def test_the_validators_reject_what_a_cluster_would_reject() -> None:
    """A check that cannot fail proves nothing: typos and bad values must be caught."""
    docs = render("base")
    deployment = json.loads(json.dumps(of_kind(docs, "Deployment")["forum"]))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)

    def invalid(doc: Doc) -> bool:
        return not jsonschema.Draft202012Validator(_crd_schema(doc)).is_valid(doc)

    scaled = json.loads(json.dumps(of_kind(docs, "ScaledObject")["moderation-worker"]))
    scaled["spec"]["maxReplicas"] = 12  # the HPA's field name, not KEDA's
    assert invalid(scaled)
    scaled = json.loads(json.dumps(of_kind(docs, "ScaledObject")["moderation-worker"]))
    scaled["spec"]["triggers"][0]["metadata"]["lagTreshold"] = "160"
    assert invalid(scaled)
    topic = json.loads(json.dumps(next(iter(of_kind(docs, "KafkaTopic").values()))))
    topic["spec"]["partitions"] = 0
    assert invalid(topic)
    user = json.loads(json.dumps(of_kind(docs, "KafkaUser")["haven-keda"]))
    user["spec"]["authorization"]["acls"][0]["operations"] = ["Descibe"]
    assert invalid(user)
    rule = json.loads(json.dumps(of_kind(docs, "PrometheusRule")["haven"]))
    rule["spec"]["groups"][0]["rules"][0]["for"] = "two minutes"
    assert invalid(rule)


# --- topics ------------------------------------------------------------------------------------


def test_the_kafka_topics_are_the_ones_the_code_creates(rendered: list[Doc]) -> None:
    settings = _settings(_config(rendered))
    declared = {doc["spec"].get("topicName", name): doc for name, doc in of_kind(rendered, "KafkaTopic").items()}
    expected = {spec.name: spec for spec in topic_specs(settings)}
    assert set(declared) == set(expected)
    for name, spec in expected.items():
        topic = declared[name]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "kafka", name
        assert topic["spec"]["partitions"] == spec.partitions, name
        assert topic["spec"]["replicas"] == settings.replication_factor, name
        assert {key: str(value) for key, value in topic["spec"]["config"].items()} == spec.config, name
        assert settings.min_insync_replicas <= settings.replication_factor


def test_production_keeps_three_copies_and_needs_two() -> None:
    production = render("overlays/production")
    settings = _settings(_config(production))
    assert (settings.replication_factor, settings.min_insync_replicas) == (3, 2)
    assert all(topic["spec"]["replicas"] == 3 for topic in of_kind(production, "KafkaTopic").values())
    assert all(
        topic["spec"]["config"]["min.insync.replicas"] == "2" for topic in of_kind(production, "KafkaTopic").values()
    )


# --- the worker's scaling ----------------------------------------------------------------------


def _lag_threshold_from_the_benchmark() -> int:
    """README's `haven bench screen` figure for long posts in float32 (posts/s per replica, the first
    column: every node reaches it) x 10 s of backlog."""
    row = re.search(r"^\| long posts[^|]*\| ([\d.]+) \|", (ROOT / "README.md").read_text(), re.MULTILINE)
    assert row, "README's benchmark table has no long-post row"
    return int(float(row.group(1))) * 10


def test_the_worker_scales_on_the_lag_of_its_own_consumer_group(rendered: list[Doc]) -> None:
    config = _config(rendered)
    settings = _settings(config)
    topics = Topics(settings.topic_prefix)
    assert "moderation-worker" not in {
        hpa["spec"]["scaleTargetRef"]["name"] for hpa in of_kind(rendered, "HorizontalPodAutoscaler").values()
    }, "KEDA owns the worker's HPA; a second one would fight it"
    scaled = of_kind(rendered, "ScaledObject")["moderation-worker"]["spec"]
    assert scaled["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "moderation-worker"}
    assert "moderation-worker" in of_kind(rendered, "Deployment")
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    (group,) = SERVICE_ACCESS["moderation-worker"].groups
    assert metadata["consumerGroup"] == f"{settings.topic_prefix}{group}"
    assert metadata["topic"] == topics.posts_submitted
    assert metadata["bootstrapServersFromEnv"] in config, "read from the worker's envFrom haven-config"
    partitions = of_kind(rendered, "KafkaTopic")[topics.posts_submitted]["spec"]["partitions"]
    assert scaled["maxReplicaCount"] == settings.partitions == partitions
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"], (
        "never zero: crisis posts must not wait for a pod"
    )
    assert int(metadata["lagThreshold"]) == _lag_threshold_from_the_benchmark()


def test_keda_logs_in_to_kafka_as_its_own_principal_that_can_read_no_record(rendered: list[Doc]) -> None:
    config = _config(rendered)
    prefix = config["HAVEN_TOPIC_PREFIX"]
    trigger = of_kind(rendered, "ScaledObject")["moderation-worker"]["spec"]["triggers"][0]
    auth = of_kind(rendered, "TriggerAuthentication")[trigger["authenticationRef"]["name"]]["spec"]
    config_maps = of_kind(rendered, "ConfigMap")
    params = {ref["parameter"]: config_maps[ref["name"]]["data"][ref["key"]] for ref in auth["configMapTargetRef"]}
    secrets = {ref["parameter"]: (ref["name"], ref["key"]) for ref in auth["secretTargetRef"]}
    assert set(params) | set(secrets) == {"sasl", "tls", "username", "password", "ca"}
    # The same mechanism and TLS as the services (SCRAM-SHA-512 over SASL_SSL).
    assert config["HAVEN_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" and params["tls"] == "enable"
    assert params["sasl"] == config["HAVEN_KAFKA_SASL_MECHANISM"].lower().replace("-", "_").replace("sha_", "sha")
    user = of_kind(rendered, "KafkaUser")[params["username"]]
    assert secrets["password"] == (params["username"], "password"), "the Secret Strimzi makes for that KafkaUser"
    mounted_ca = {
        volume["secret"]["secretName"]
        for deployment in of_kind(rendered, "Deployment").values()
        for volume in deployment["spec"]["template"]["spec"]["volumes"]
        if volume["name"] == "kafka-ca"
    }
    assert mounted_ca == {secrets["ca"][0]} and secrets["ca"][1] == "ca.crt"
    assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
    granted = acl_grants(user)
    assert granted == {
        ("topic", Topics(prefix).posts_submitted, "literal", "Describe"),
        ("group", trigger["metadata"]["consumerGroup"], "literal", "Describe"),
    }


def test_the_worker_is_probed_and_scraped_on_its_health_port(rendered: list[Doc]) -> None:
    deployments = of_kind(rendered, "Deployment")
    worker = deployments["moderation-worker"]["spec"]["template"]["spec"]["containers"][0]
    env = {entry["name"]: entry.get("value") for entry in worker["env"]}
    port = int(env["HAVEN_WORKER_PORT"])
    assert worker["ports"] == [{"name": "http", "containerPort": port}]
    assert worker["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert worker["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    (monitor,) = of_kind(rendered, "PodMonitor").values()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["path"] == "/metrics"
    for name, deployment in deployments.items():
        template = deployment["spec"]["template"]
        (container,) = template["spec"]["containers"]
        if name in WITHOUT_HTTP:
            assert "ports" not in container and "annotations" not in template["metadata"], name
            continue
        assert monitor["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items(), name
        assert template["metadata"]["labels"][monitor["spec"]["jobLabel"]] == name, "alerts select job=<service>"
        assert endpoint["port"] in {p["name"] for p in container["ports"]}, name
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/path"] == "/metrics"
        assert int(annotations["prometheus.io/port"]) == container["ports"][0]["containerPort"], name


# --- metrics -----------------------------------------------------------------------------------


def _metrics_the_code_exports() -> set[str]:
    """Names as Prometheus sees them: counters gain _total, histograms _bucket/_sum/_count."""
    suffixes = {
        "Counter": ("_total",),
        "Gauge": ("",),
        "Histogram": ("_bucket", "_sum", "_count"),
        "Summary": ("_sum", "_count"),
    }
    names: set[str] = set()
    for path in [*ROOT.joinpath("services").rglob("*.py"), *ROOT.joinpath("streams").rglob("*.py")]:
        for kind, name in re.findall(
            r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"(haven_[a-z0-9_]+)\"", path.read_text()
        ):
            base = name.removesuffix("_total") if kind == "Counter" else name
            names.update(base + suffix for suffix in suffixes[kind])
    return names


def _selectors(expr: Any) -> list[Any]:
    """Every VectorSelector in a parsed PromQL expression."""
    if isinstance(expr, promql_parser.VectorSelector):
        return [expr]
    if isinstance(expr, promql_parser.MatrixSelector):
        return [expr.vector_selector]
    if isinstance(expr, promql_parser.BinaryExpr):
        return _selectors(expr.lhs) + _selectors(expr.rhs)
    if isinstance(expr, promql_parser.Call):
        return [s for arg in expr.args for s in _selectors(arg)]
    if isinstance(expr, promql_parser.AggregateExpr):
        return _selectors(expr.expr) + (_selectors(expr.param) if expr.param is not None else [])
    if isinstance(expr, (promql_parser.ParenExpr, promql_parser.SubqueryExpr, promql_parser.UnaryExpr)):
        return _selectors(expr.expr)
    assert isinstance(expr, (promql_parser.NumberLiteral, promql_parser.StringLiteral)), type(expr)
    return []


def _metric_names(query: str) -> set[str]:
    # Grafana's interval variables stand for a duration.
    query = query.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$__range", "1h")
    names = set()
    for selector in _selectors(promql_parser.parse(query)):
        assert selector.name, f"select metrics by name, not by __name__ matchers: {query}"
        names.add(selector.name)
    return names


def _alerts(docs: list[Doc]) -> dict[str, Doc]:
    rule = of_kind(docs, "PrometheusRule")["haven"]
    groups = rule["spec"]["groups"]
    assert len({group["name"] for group in groups}) == len(groups)
    return {r["alert"]: r for group in groups for r in group["rules"]}


def test_every_alert_uses_metrics_the_code_defines(rendered: list[Doc]) -> None:
    known = _metrics_the_code_exports() | EXTERNAL_METRICS
    assert "haven_http_requests_total" in known and "haven_worker_batch_seconds_bucket" in known
    used: set[str] = set()
    for name, alert in _alerts(rendered).items():
        names = _metric_names(alert["expr"])
        assert names <= known, f"{name}: unknown metrics {sorted(names - known)}"
        assert alert["labels"]["severity"] in {"critical", "warning"}, name
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], name
        used |= names
    # What the pipeline's operators must hear about (issue 13).
    assert used >= {
        "up",
        "kube_pod_status_ready",
        "haven_screening_oldest_waiting_seconds",
        "haven_worker_oldest_unscreened_seconds",
        "haven_screening_lag_events",
        "haven_worker_lag_events",
        "haven_dead_letters_total",
        "haven_consumer_retrying",
        "haven_review_urgent_realerts_total",
        "haven_review_time_to_first_claim_seconds_bucket",
        "haven_http_requests_total",
        "haven_readiness_failing",
    }


def test_alert_thresholds_are_the_settings_and_scaling_they_watch(rendered: list[Doc]) -> None:
    settings = _settings(_config(rendered))
    alerts = _alerts(rendered)

    def threshold(name: str) -> float:
        expr = promql_parser.parse(alerts[name]["expr"])
        while isinstance(expr, promql_parser.BinaryExpr) and not isinstance(expr.rhs, promql_parser.NumberLiteral):
            expr = expr.lhs  # `x > N and ...`: the comparison on the left
        assert isinstance(expr, promql_parser.BinaryExpr) and isinstance(expr.rhs, promql_parser.NumberLiteral), name
        return float(expr.rhs.val)

    assert threshold("HavenScreeningStalled") == settings.screening_stalled_after_s
    lag_threshold = of_kind(rendered, "ScaledObject")["moderation-worker"]["spec"]["triggers"][0]["metadata"][
        "lagThreshold"
    ]
    assert threshold("HavenScreeningLagGrowing") == int(lag_threshold)
    assert threshold("HavenUrgentClaimSlow") == settings.urgent_realert_after_s
    assert 'job="moderation-worker"' in alerts["HavenWorkerDown"]["expr"]


def test_the_dashboard_plots_only_metrics_the_code_defines(rendered: list[Doc]) -> None:
    known = _metrics_the_code_exports() | EXTERNAL_METRICS
    config_map = of_kind(rendered, "ConfigMap")["grafana-dashboard-haven"]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    (content,) = config_map["data"].values()
    dashboard = json.loads(content)
    assert dashboard["uid"] == "haven-pipeline"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    used: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = _metric_names(target["expr"])
            assert names <= known, f"{panel['title']}: unknown metrics {sorted(names - known)}"
            used |= names
    assert {"haven_worker_posts_screened_total", "haven_screening_lag_events", "haven_dead_letters_total"} <= used
