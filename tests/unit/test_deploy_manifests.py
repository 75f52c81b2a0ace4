"""The Kubernetes manifests agree with the code: commands, ports, probes, settings, scaling.

No cluster runs on this machine, so these checks are what keeps deploy/k8s honest: a renamed
setting, a wrong port or a worker maximum above the partition count fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from services.runner import SERVICES

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s" / "base"
HTTP_PORT_SETTINGS = {"forum": "HAVEN_FORUM_PORT", "moderation-api": "HAVEN_MODERATION_PORT", "notify": "HAVEN_NOTIFY_PORT"}


def _documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def _of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in _documents() if doc["kind"] == kind}


def _settings_the_code_reads() -> set[str]:
    names: set[str] = set()
    for path in [*ROOT.joinpath("services").rglob("*.py"), *ROOT.joinpath("streams").rglob("*.py")]:
        names.update(re.findall(r'"(HAVEN_[A-Z_]+)"', path.read_text()))
    return names


def test_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_every_setting_in_the_manifests_is_one_the_code_reads() -> None:
    known = _settings_the_code_reads()
    config = _of_kind("ConfigMap")["haven-config"]["data"]
    used = set(config)
    for deployment in _of_kind("Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            used.update(entry["name"] for entry in container.get("env", []))
    assert used - known == set()


def test_each_deployment_runs_a_real_service_with_probes_on_the_port_it_listens_on() -> None:
    deployments = _of_kind("Deployment")
    assert set(deployments) == {"forum", "moderation-api", "moderation-worker", "notify"}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["args"] == ["serve", name] and name in SERVICES
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert deployment["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        env = {entry["name"]: entry for entry in container["env"]}
        assert env["HAVEN_MONGO_URI"]["valueFrom"]["secretKeyRef"]["name"] == "haven-mongo", "credentials stay in a secret"
        if name not in HTTP_PORT_SETTINGS:
            continue
        port = int(env[HTTP_PORT_SETTINGS[name]]["value"])
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        service = _of_kind("Service")[name]
        assert service["spec"]["ports"][0]["targetPort"] == "http"
        assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_screening_workers_never_outnumber_the_partitions_they_share() -> None:
    partitions = int(_of_kind("ConfigMap")["haven-config"]["data"]["HAVEN_PARTITIONS"])
    autoscaler = _of_kind("HorizontalPodAutoscaler")["moderation-worker"]
    assert autoscaler["spec"]["maxReplicas"] <= partitions


def test_the_image_runs_as_the_user_the_pods_require() -> None:
    containerfile = (ROOT / "deploy" / "container" / "Containerfile").read_text()
    user = re.search(r"^USER (\d+)$", containerfile, re.MULTILINE)
    assert user is not None
    for deployment in _of_kind("Deployment").values():
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(user.group(1))


def test_trusted_proxies_are_addresses_or_networks_the_services_can_read() -> None:
    from ipaddress import ip_network

    entries = _of_kind("ConfigMap")["haven-config"]["data"]["HAVEN_TRUSTED_PROXIES"].split(",")
    assert entries and all(ip_network(entry.strip(), strict=False) for entry in entries)


def test_every_kafka_user_acl_names_a_topic_the_code_knows() -> None:
    from streams.settings import Settings
    from streams.topics import topic_specs

    prefix = _of_kind("ConfigMap")["haven-config"]["data"]["HAVEN_TOPIC_PREFIX"]
    known = {spec.name for spec in topic_specs(Settings(topic_prefix=prefix))}
    users = _of_kind("KafkaUser")
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


def test_each_service_logs_in_as_its_own_kafka_user_with_exactly_the_acls_it_needs() -> None:
    from streams.access import SERVICE_ACCESS, Acl, Operation

    config = _of_kind("ConfigMap")["haven-config"]["data"]
    assert config["HAVEN_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", "nothing talks to Kafka unauthenticated or in clear"
    users = _of_kind("KafkaUser")
    assert set(users) == {access.principal for access in SERVICE_ACCESS.values()}
    for service, deployment in _of_kind("Deployment").items():
        access = SERVICE_ACCESS[service]
        granted = {
            Acl(rule["resource"]["type"], rule["resource"]["name"], Operation(operation), rule["resource"]["patternType"] == "prefix")
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
