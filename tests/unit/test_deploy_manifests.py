"""The Kubernetes manifests agree with the code: commands, ports, probes, settings, scaling.

No cluster runs on this machine, so these checks are what keeps deploy/k8s honest: a renamed
setting, a wrong port or a worker maximum above the partition count fails here. Each check runs
on every kustomization (the base and each overlay), rendered by tests/unit/k8s_render.py; the
operator resources (KEDA, Strimzi topics, alerts) are checked in test_k8s_operators.py. The
optional shadow screener (deploy/k8s/components/screener-shadow) is checked on top of each.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.runner import SERVICES
from tests.unit.k8s_render import K8S, KUSTOMIZATIONS, acl_grants, of_kind, render, with_components

ROOT = Path(__file__).resolve().parents[2]
HTTP_PORT_SETTINGS = {
    "forum": "HAVEN_FORUM_PORT",
    "moderation-api": "HAVEN_MODERATION_PORT",
    "notify": "HAVEN_NOTIFY_PORT",
    "moderation-worker": "HAVEN_WORKER_PORT",
}
#: Kafka principals that are not services: KEDA reads the worker group's offsets (test_k8s_operators.py).
NON_SERVICE_KAFKA_USERS = {"haven-keda"}
SHADOW_COMPONENT = "components/screener-shadow"
SHADOW_USER = "haven-screener-shadow"


@pytest.fixture(scope="module", params=KUSTOMIZATIONS)
def docs(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


@pytest.fixture(scope="module", params=KUSTOMIZATIONS)
def shadow_docs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The kustomization with the shadow screener component enabled."""
    return render(with_components(request.param, [SHADOW_COMPONENT], tmp_path_factory.mktemp("k8s")))


def _of(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return of_kind(docs, kind)


def _settings_the_code_reads() -> set[str]:
    from streams.settings import Settings

    return Settings.variables()


def test_kustomization_lists_every_manifest() -> None:
    base = K8S / "base"
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    assert set(kustomization["resources"]) == {p.name for p in base.glob("*.yaml")} - {"kustomization.yaml"}
    generated = {file for generator in kustomization["configMapGenerator"] for file in generator["files"]}
    assert generated == {p.name for p in base.glob("*.json")}
    for overlay in (K8S / "overlays").iterdir():
        assert yaml.safe_load((overlay / "kustomization.yaml").read_text())["resources"] == ["../../base"]


def test_every_setting_in_the_manifests_is_one_the_code_reads(docs: list[dict[str, Any]]) -> None:
    known = _settings_the_code_reads()
    config = _of(docs, "ConfigMap")["haven-config"]["data"]
    used = set(config)
    for deployment in _of(docs, "Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            used.update(entry["name"] for entry in container.get("env", []))
    assert used - known == set()


def test_the_shared_configuration_is_valid_for_the_settings_model(docs: list[dict[str, Any]]) -> None:
    from streams.settings import Settings

    config = _of(docs, "ConfigMap")["haven-config"]["data"]
    # Files mounted in the pod and the per-service login are not here; everything else must load.
    env = {name: value for name, value in config.items() if not name.endswith(("_CAFILE", "_CERTFILE", "_KEYFILE"))}
    settings = Settings.from_env(env | {"HAVEN_KAFKA_SASL_USERNAME": "forum", "HAVEN_KAFKA_SASL_PASSWORD": "x"})
    assert settings.partitions == int(config["HAVEN_PARTITIONS"])
    assert settings.kafka_security_protocol == config["HAVEN_KAFKA_SECURITY_PROTOCOL"]


def test_each_deployment_runs_a_real_service_with_probes_on_the_port_it_listens_on(docs: list[dict[str, Any]]) -> None:
    deployments = _of(docs, "Deployment")
    assert set(deployments) == {"forum", "moderation-api", "moderation-worker", "notify"}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["args"] == ["serve", name] and name in SERVICES
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert (
            deployment["spec"]["selector"]["matchLabels"].items()
            <= deployment["spec"]["template"]["metadata"]["labels"].items()
        )
        env = {entry["name"]: entry for entry in container["env"]}
        assert env["HAVEN_MONGO_URI"]["valueFrom"]["secretKeyRef"]["name"] == "haven-mongo", (
            "credentials stay in a secret"
        )
        port = int(env[HTTP_PORT_SETTINGS[name]]["value"])
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        services = _of(docs, "Service")
        if name == "moderation-worker":
            assert name not in services, "the worker serves no API: its port is for probes and scrapes only"
            continue
        service = services[name]
        assert service["spec"]["ports"][0]["targetPort"] == "http"
        assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_screening_workers_never_outnumber_the_partitions_they_share(docs: list[dict[str, Any]]) -> None:
    partitions = int(_of(docs, "ConfigMap")["haven-config"]["data"]["HAVEN_PARTITIONS"])
    autoscaler = _of(docs, "ScaledObject")["moderation-worker"]
    assert autoscaler["spec"]["maxReplicaCount"] <= partitions
    for hpa in _of(docs, "HorizontalPodAutoscaler").values():
        assert hpa["spec"]["scaleTargetRef"]["name"] != "moderation-worker", "KEDA scales the worker, on lag"


def test_the_image_runs_as_the_user_the_pods_require(docs: list[dict[str, Any]]) -> None:
    containerfile = (ROOT / "deploy" / "container" / "Containerfile").read_text()
    user = re.search(r"^USER (\d+)$", containerfile, re.MULTILINE)
    assert user is not None
    for deployment in _of(docs, "Deployment").values():
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(user.group(1))


def test_trusted_proxies_are_addresses_or_networks_the_services_can_read(docs: list[dict[str, Any]]) -> None:
    from ipaddress import ip_network

    entries = _of(docs, "ConfigMap")["haven-config"]["data"]["HAVEN_TRUSTED_PROXIES"].split(",")
    assert entries and all(ip_network(entry.strip(), strict=False) for entry in entries)


def test_every_kafka_user_acl_names_a_topic_the_code_knows(docs: list[dict[str, Any]]) -> None:
    from streams.settings import Settings
    from streams.topics import topic_specs

    prefix = _of(docs, "ConfigMap")["haven-config"]["data"]["HAVEN_TOPIC_PREFIX"]
    known = {spec.name for spec in topic_specs(Settings(topic_prefix=prefix))}
    users = _of(docs, "KafkaUser")
    assert users
    for user in users.values():
        assert user["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        for rule in user["spec"]["authorization"]["acls"]:
            resource = rule["resource"]
            if resource["type"] != "topic":
                continue
            if resource["patternType"] == "prefix":
                assert resource["name"] == prefix, "a prefix ACL never reaches beyond Haven's topics"
            else:
                assert resource["name"] in known, f"{user['metadata']['name']}: unknown topic {resource['name']}"


def test_each_service_logs_in_as_its_own_kafka_user_with_exactly_the_acls_it_needs(docs: list[dict[str, Any]]) -> None:
    from streams.access import SERVICE_ACCESS, Acl, Operation

    config = _of(docs, "ConfigMap")["haven-config"]["data"]
    assert config["HAVEN_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", "nothing talks to Kafka unauthenticated or in clear"
    users = _of(docs, "KafkaUser")
    assert set(users) - NON_SERVICE_KAFKA_USERS == {access.principal for access in SERVICE_ACCESS.values()}
    for service, deployment in _of(docs, "Deployment").items():
        access = SERVICE_ACCESS[service]
        granted = {
            Acl(
                rule["resource"]["type"],
                rule["resource"]["name"],
                Operation(operation),
                rule["resource"]["patternType"] == "prefix",
            )
            for rule in users[access.principal]["spec"]["authorization"]["acls"]
            for operation in rule["operations"]
        }
        assert granted == access.acls(config["HAVEN_TOPIC_PREFIX"]), service
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {entry["name"]: entry for entry in container["env"]}
        assert env["HAVEN_KAFKA_SASL_USERNAME"]["value"] == access.principal
        assert "HAVEN_KAFKA_SASL_PASSWORD" not in env, "the password comes from the mounted secret file"
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
        password_file = Path(env["HAVEN_KAFKA_SASL_PASSWORD_FILE"]["value"])
        assert volumes["kafka-user"]["secret"]["secretName"] == access.principal, "Strimzi's secret for that user"
        assert password_file == Path(mounts["kafka-user"]) / volumes["kafka-user"]["secret"]["items"][0]["path"]
        assert Path(config["HAVEN_KAFKA_SSL_CAFILE"]) == Path(mounts["kafka-ca"]) / "ca.crt"


def test_every_topic_the_code_creates_has_a_writer_and_every_event_topic_a_reader() -> None:
    """A topic added to streams/topics.py without an entry in streams/access.py would be refused in production."""
    from streams.access import SERVICE_ACCESS
    from streams.settings import Settings
    from streams.topics import topic_specs

    prefix = "haven."
    granted = [acl for access in SERVICE_ACCESS.values() for acl in access.acls(prefix)]
    written = {acl.name for acl in granted if acl.operation.value == "Write"}
    read = {acl.name for acl in granted if acl.operation.value == "Read" and acl.kind == "topic"}
    for spec in topic_specs(Settings(topic_prefix=prefix)):
        assert spec.name in written, f"no service may write {spec.name}"
        if not spec.name.startswith(f"{prefix}dlq."):
            assert spec.name in read, f"no service may read {spec.name}"


# --- the optional shadow screener --------------------------------------------------------------


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_the_shadow_component_adds_its_deployment_and_kafka_user_and_changes_nothing_else(
    kustomization: str, tmp_path: Path
) -> None:
    without = {(doc["kind"], doc["metadata"]["name"]): doc for doc in render(kustomization)}
    with_shadow = {
        (doc["kind"], doc["metadata"]["name"]): doc
        for doc in render(with_components(kustomization, [SHADOW_COMPONENT], tmp_path))
    }
    added = set(with_shadow) - set(without)
    assert added == {("Deployment", "screener-shadow"), ("KafkaUser", SHADOW_USER)}
    assert {key: with_shadow[key] for key in without} == without
    namespaces = {doc["metadata"].get("namespace") for kind, doc in with_shadow.items() if kind[0] != "Namespace"}
    assert len(namespaces) == 1, "the shadow goes where the rest of Haven is"


def test_the_shadow_runs_the_shadow_command_beside_the_worker(shadow_docs: list[dict[str, Any]]) -> None:
    from services import cli
    from services.moderation.screening import cli_shadow
    from streams.settings import Settings

    deployments = _of(shadow_docs, "Deployment")
    shadow, worker = deployments["screener-shadow"], deployments["moderation-worker"]
    assert shadow["spec"]["replicas"] == 1
    pod, worker_pod = shadow["spec"]["template"]["spec"], worker["spec"]["template"]["spec"]
    (container,), (worker_container,) = pod["containers"], worker_pod["containers"]
    command, *rest = container["args"]
    assert ((command,), cli_shadow.__name__) in {(path, module) for path, module, _ in cli.COMMANDS}
    parser = argparse.ArgumentParser()
    cli_shadow.configure(parser)
    assert parser.parse_args(rest).action == "shadow"
    # Its live side must be the worker's model: the same image, tag included.
    assert container["image"] == worker_container["image"]
    assert pod["securityContext"] == worker_pod["securityContext"]
    assert container["securityContext"] == worker_container["securityContext"]
    assert container["envFrom"] == worker_container["envFrom"]
    assert shadow["spec"]["selector"]["matchLabels"].items() <= shadow["spec"]["template"]["metadata"]["labels"].items()
    # `haven screener shadow` serves no HTTP: no port to probe or scrape.
    assert not {"ports", "startupProbe", "readinessProbe", "livenessProbe"} & set(container)
    env = {entry["name"]: entry for entry in container["env"]}
    assert env["HAVEN_MONGO_URI"]["valueFrom"]["secretKeyRef"]["name"] == "haven-mongo"
    candidate = Path(env["HAVEN_SHADOW_SCREENER"]["value"])
    assert Settings.from_env({"HAVEN_SHADOW_SCREENER": str(candidate)}).shadow_screener == candidate
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    (mount,) = [m for m in container["volumeMounts"] if candidate.is_relative_to(m["mountPath"])]
    assert mount["readOnly"] is True and "secret" not in volumes[mount["name"]], "the candidate comes from a volume"
    # Its own Kafka login, the same way as the services'.
    config = _of(shadow_docs, "ConfigMap")["haven-config"]["data"]
    assert env["HAVEN_KAFKA_SASL_USERNAME"]["value"] == SHADOW_USER
    assert "HAVEN_KAFKA_SASL_PASSWORD" not in env
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert volumes["kafka-user"]["secret"]["secretName"] == SHADOW_USER
    assert Path(env["HAVEN_KAFKA_SASL_PASSWORD_FILE"]["value"]) == Path(mounts["kafka-user"]) / "password"
    assert Path(config["HAVEN_KAFKA_SSL_CAFILE"]) == Path(mounts["kafka-ca"]) / "ca.crt"


def test_the_shadow_sets_only_settings_the_code_reads(shadow_docs: list[dict[str, Any]]) -> None:
    (container,) = _of(shadow_docs, "Deployment")["screener-shadow"]["spec"]["template"]["spec"]["containers"]
    used = {entry["name"] for entry in container["env"]}
    assert "HAVEN_SHADOW_SCREENER" in used
    assert used - _settings_the_code_reads() == set()


def _shadow_consumer(prefix: str, candidate_version: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What run_shadow asks create_consumer for (topics, group), stopped before it connects."""
    import streams.kafka
    from services.moderation.screening.shadow import run_shadow
    from streams.settings import Settings

    class Stop(Exception):
        pass

    asked: dict[str, Any] = {}

    def create_consumer(settings: Settings, topics: list[str], **options: Any) -> None:
        asked.update(options, topics=list(topics))
        raise Stop

    def screen(inputs: Any) -> list[Any]:
        return []

    monkeypatch.setattr(streams.kafka, "create_consumer", create_consumer)
    with pytest.raises(Stop):
        asyncio.run(run_shadow(Settings(topic_prefix=prefix), screen, screen, candidate_version))
    return asked


def test_the_shadow_kafka_user_may_only_read_posts_submitted_in_the_group_the_code_uses(
    shadow_docs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from streams.access import SERVICE_ACCESS
    from streams.topics import Topics

    prefix = _of(shadow_docs, "ConfigMap")["haven-config"]["data"]["HAVEN_TOPIC_PREFIX"]
    version = "candidate-2"
    consumer = _shadow_consumer(prefix, version, monkeypatch)
    assert consumer["topics"] == [Topics(prefix).posts_submitted]
    # The group is named after the candidate's version, so the ACL is a prefix: the group less it.
    group = consumer["group_id"].removesuffix(version)
    assert group != consumer["group_id"]
    user = _of(shadow_docs, "KafkaUser")[SHADOW_USER]
    assert user["metadata"]["labels"]["strimzi.io/cluster"] == "kafka"
    assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
    granted = acl_grants(user)
    assert granted == {
        ("topic", Topics(prefix).posts_submitted, "literal", "Read"),
        ("group", group, "prefix", "Read"),
    }
    services_groups = {f"{prefix}{name}" for access in SERVICE_ACCESS.values() for name in access.groups}
    assert not {name for name in services_groups if name.startswith(group)}, "never a service's group"


def test_an_autoscaled_deployment_leaves_its_replica_count_to_the_autoscaler(docs: list[dict[str, Any]]) -> None:
    scaled = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in _of(docs, "HorizontalPodAutoscaler").values()}
    scaled |= {so["spec"]["scaleTargetRef"]["name"] for so in _of(docs, "ScaledObject").values()}
    assert {"forum", "notify", "moderation-worker"} <= scaled
    deployments = _of(docs, "Deployment")
    assert [name for name in scaled if "replicas" in deployments[name]["spec"]] == []


def test_every_disruption_budget_lets_an_unready_pod_be_evicted(docs: list[dict[str, Any]]) -> None:
    budgets = _of(docs, "PodDisruptionBudget")
    assert budgets and all(b["spec"].get("unhealthyPodEvictionPolicy") == "AlwaysAllow" for b in budgets.values())


def test_http_services_keep_answering_until_their_endpoints_let_go(docs: list[dict[str, Any]]) -> None:
    deployments = _of(docs, "Deployment")
    for name in ("forum", "notify", "moderation-api"):
        [container] = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep", name


def test_the_kafka_address_is_fully_qualified_for_kedas_scaler(docs: list[dict[str, Any]]) -> None:
    config = _of(docs, "ConfigMap")["haven-config"]["data"]
    host = config["HAVEN_KAFKA_BOOTSTRAP"].split(":")[0]
    assert host.endswith(".svc") or host.endswith(".svc.cluster.local"), host
