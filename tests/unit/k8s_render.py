"""Render deploy/k8s kustomizations in Python, so the manifest tests need no kustomize binary.

Only the kustomize features Haven's kustomizations use are implemented, and anything else fails
loudly rather than being skipped: `resources` (files and directories), `components`, `namespace`,
`images` (newName/newTag), `configMapGenerator` (files and literals, with disableNameSuffixHash),
`patches` with a target and an inline JSON 6902 patch, and `replacements` from one field to others.
test_k8s_operators.py compares the result with `kustomize build` whenever a kustomize binary is at
hand (HAVEN_KUSTOMIZE or PATH).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
#: Every kustomization Haven ships, relative to deploy/k8s.
KUSTOMIZATIONS = ("base", "overlays/production")
#: The optional components (kind: Component), relative to deploy/k8s: an overlay enables them.
COMPONENTS = ("components/screener-shadow",)

Doc = dict[str, Any]

_KNOWN_KEYS = {
    "apiVersion",
    "kind",
    "namespace",
    "resources",
    "components",
    "images",
    "configMapGenerator",
    "patches",
    "replacements",
}
#: Kinds without a namespace among those Haven ships.
_CLUSTER_SCOPED = {"Namespace"}


class UnsupportedKustomization(Exception):
    """A kustomize feature this renderer does not implement: implement it, or do without."""


def render(path: Path | str) -> list[Doc]:
    return _build(K8S / path if not Path(path).is_absolute() else Path(path), [], component=False)


def with_components(kustomization: str, components: Sequence[str], directory: Path) -> Path:
    """Write in `directory` an overlay of `kustomization` that enables `components` (both relative
    to deploy/k8s), as an operator would; kustomize wants relative paths."""
    relative = [os.path.relpath(K8S / entry, directory) for entry in (kustomization, *components)]
    overlay = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": relative[:1],
        "components": relative[1:],
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    return directory


def _build(directory: Path, docs: list[Doc], *, component: bool) -> list[Doc]:
    """Add what the kustomization (or component) in `directory` makes to `docs`, then transform them.

    A kustomization's transformers see only its own resources; a component's see everything its
    parent has gathered so far, which is what a component is for.
    """
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - _KNOWN_KEYS
    if unknown:
        raise UnsupportedKustomization(f"{directory}: {sorted(unknown)}")
    if (kustomization.get("kind", "Kustomization") == "Component") != component:
        raise AssertionError(f"{directory}: a Component goes in `components`, a Kustomization in `resources`")
    for entry in kustomization.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            docs.extend(_build(target, [], component=False))
        else:
            docs.extend(copy.deepcopy(doc) for doc in yaml.safe_load_all(target.read_text()) if doc)
    for entry in kustomization.get("components", []):
        _build((directory / entry).resolve(), docs, component=True)
    for generator in kustomization.get("configMapGenerator", []):
        docs.append(_config_map(directory, generator))
    for patch in kustomization.get("patches", []):
        _apply_patch(docs, patch)
    namespace = kustomization.get("namespace")
    if namespace:
        for doc in docs:
            if doc["kind"] not in _CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = namespace
    for image in kustomization.get("images", []):
        _set_image(docs, image)
    for replacement in kustomization.get("replacements", []):
        _replace(docs, replacement)
    return docs


def _config_map(directory: Path, generator: Doc) -> Doc:
    options = generator.get("options", {})
    if set(generator) - {"name", "files", "literals", "options"} or set(options) - {"disableNameSuffixHash", "labels"}:
        raise UnsupportedKustomization(
            f"configMapGenerator {generator.get('name')}: {sorted(generator)}, {sorted(options)}"
        )
    if options.get("disableNameSuffixHash") is not True:
        raise UnsupportedKustomization(
            "configMapGenerator without disableNameSuffixHash: the name hash is not computed here"
        )
    data: dict[str, str] = {}
    for file in generator.get("files", []):
        if "=" in file:
            raise UnsupportedKustomization(f"configMapGenerator file with a key: {file}")
        data[Path(file).name] = (directory / file).read_text()
    for literal in generator.get("literals", []):
        key, value = literal.split("=", 1)
        data[key] = value
    metadata: Doc = {"name": generator["name"]}
    if options.get("labels"):
        metadata["labels"] = dict(options["labels"])
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def _matches(doc: Doc, target: Doc) -> bool:
    if set(target) - {"group", "version", "kind", "name"}:
        raise UnsupportedKustomization(f"patch target {target}")
    group, _, version = doc["apiVersion"].rpartition("/")
    return (
        target.get("group", group) == group
        and target.get("version", version) == version
        and target.get("kind", doc["kind"]) == doc["kind"]
        and target.get("name", doc["metadata"]["name"]) == doc["metadata"]["name"]
    )


def _apply_patch(docs: list[Doc], patch: Doc) -> None:
    if set(patch) != {"target", "patch"}:
        raise UnsupportedKustomization(f"patch {sorted(patch)}: only an inline JSON 6902 patch with a target")
    operations = yaml.safe_load(patch["patch"])
    if not isinstance(operations, list):
        raise UnsupportedKustomization("strategic-merge patches are not implemented: write JSON 6902 operations")
    matched = [doc for doc in docs if _matches(doc, patch["target"])]
    if not matched:
        raise AssertionError(f"patch target {patch['target']} matches no resource")
    for doc in matched:
        for operation in operations:
            _json6902(doc, operation)


def _json6902(doc: Doc, operation: Doc) -> None:
    op, path = operation["op"], operation["path"]
    if op not in {"add", "replace", "remove"}:
        raise UnsupportedKustomization(f"JSON patch op {op}")
    keys = [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]
    parent: Any = doc
    for key in keys[:-1]:
        parent = parent[int(key)] if isinstance(parent, list) else parent[key]
    last = keys[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if op == "add":
            parent.insert(index, copy.deepcopy(operation["value"]))
        elif op == "replace":
            parent[index] = copy.deepcopy(operation["value"])
        else:
            del parent[index]
        return
    if op in {"replace", "remove"} and last not in parent:
        raise AssertionError(f"JSON patch {op} {path}: no such field in {doc['kind']}/{doc['metadata']['name']}")
    if op == "remove":
        del parent[last]
    else:
        parent[last] = copy.deepcopy(operation["value"])


def _set_image(docs: list[Doc], image: Doc) -> None:
    if set(image) - {"name", "newName", "newTag"}:
        raise UnsupportedKustomization(f"images entry {image}")
    for doc in docs:
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in [*pod.get("containers", []), *pod.get("initContainers", [])]:
            if container["image"].split(":")[0] == image["name"]:
                name = image.get("newName", image["name"])
                tag = image.get("newTag", container["image"].partition(":")[2])
                container["image"] = f"{name}:{tag}" if tag else name


def _field(doc: Doc, path: str) -> tuple[Any, str]:
    """The parent of a kustomize field path (`a.b.[name=x].c`) and its last key."""
    *keys, last = path.split(".")
    node: Any = doc
    for key in keys:
        if key.startswith("[") and key.endswith("]"):
            field, _, value = key[1:-1].partition("=")
            (node,) = [item for item in node if item.get(field) == value]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise UnsupportedKustomization(f"field path {path}: only keys and [field=value] that exist")
    if last not in node:
        raise AssertionError(f"field path {path}: no such field in {doc['kind']}/{doc['metadata']['name']}")
    return node, last


def _selected(docs: list[Doc], select: Doc) -> list[Doc]:
    if set(select) - {"kind", "name"}:
        raise UnsupportedKustomization(f"replacement selector {select}")
    return [doc for doc in docs if _matches(doc, select)]


def _replace(docs: list[Doc], replacement: Doc) -> None:
    source = replacement["source"]
    if set(replacement) != {"source", "targets"} or set(source) - {"kind", "name", "fieldPath"}:
        raise UnsupportedKustomization(f"replacement {replacement}: only a source field copied to target fields")
    (origin,) = _selected(docs, {key: source[key] for key in ("kind", "name") if key in source})
    parent, key = _field(origin, source["fieldPath"])
    for target in replacement["targets"]:
        if set(target) != {"select", "fieldPaths"}:
            raise UnsupportedKustomization(f"replacement target {target}")
        selected = _selected(docs, target["select"])
        if not selected:
            raise AssertionError(f"replacement target {target['select']} matches no resource")
        for doc in selected:
            for path in target["fieldPaths"]:
                field_parent, field_key = _field(doc, path)
                field_parent[field_key] = copy.deepcopy(parent[key])


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def acl_grants(user: Doc) -> set[tuple[str, str, str, str]]:
    """A Strimzi KafkaUser's ACLs, one (resource type, name, pattern type, operation) each."""
    return {
        (rule["resource"]["type"], rule["resource"]["name"], rule["resource"]["patternType"], operation)
        for rule in user["spec"]["authorization"]["acls"]
        for operation in rule["operations"]
    }
