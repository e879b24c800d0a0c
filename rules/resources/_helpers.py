"""Shared readers of the resources pack: container resources, images, the ConfigMaps a pod
mounts, command-line flags and the config-file formats of Redis and Odoo.

Everything here tolerates schema-invalid input: a field of the wrong type reads as absent.
Nothing here returns or formats the value of a Secret or of an environment variable other
than the memory and policy settings the rules report.
"""

from __future__ import annotations

import configparser
import fnmatch
import functools
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from checker.k8s import (
    Container,
    escape_pointer,
    image_matches,
    memory_setting,
    pod_spec,
    quantity,
)
from checker.model import Manifest
from checker.pyrules import Estate

# ---------------------------------------------------------------------------------------
# Plain readers


def as_map(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """`value` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def as_str_list(value: Any) -> list[str]:
    """A list of strings from an option that may also be a single string."""
    if isinstance(value, str):
        return [value]
    return [str(v) for v in as_list(value) if isinstance(v, str | int | float)]


def fmt_ratio(value: Decimal | float) -> str:
    """`8.0`, `2.5`, `2.004`, `8.333`: at most three decimals, at least one."""
    text = f"{float(value):.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


_BINARY_UNITS = (("Ti", 2 ** 40), ("Gi", 2 ** 30), ("Mi", 2 ** 20), ("Ki", 2 ** 10))


def fmt_bytes(value: int | Decimal) -> str:
    """Bytes as a Kubernetes-style binary quantity: `2.5Gi`, `768Mi`, `1.86Gi`, `100`."""
    number = Decimal(value)
    for suffix, size in _BINARY_UNITS:
        if abs(number) >= size:
            scaled = number / size
            text = f"{scaled:.2f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return str(int(number))


# ---------------------------------------------------------------------------------------
# Images


# ---------------------------------------------------------------------------------------
# Container resources


@dataclass(frozen=True, slots=True)
class Amount:
    """One resource value of a container: the text as written, the number, its pointer."""

    raw: Any
    value: Decimal | None
    pointer: str

    @property
    def shown(self) -> str:
        return str(self.raw)


def resource_amount(container: Container, section: str, resource: str) -> Amount | None:
    """`resources.<section>.<resource>` of a container (`limits`/`requests`, `cpu`/`memory`);
    None when absent. `value` is None when the text is not a quantity."""
    resources = as_map(container.spec.get("resources"))
    values = as_map(resources.get(section))
    if resource not in values or values[resource] is None:
        return None
    return Amount(values[resource], quantity(values[resource]),
                  f"{container.pointer}/resources/{section}/{resource}")


def memory_limit(container: Container) -> Amount | None:
    """The container's memory limit when it is a readable, positive quantity."""
    amount = resource_amount(container, "limits", "memory")
    if amount is None or amount.value is None or amount.value <= 0:
        return None
    return amount


def container_label(container: Container) -> str:
    """`container redis` / `init container migrate` for messages."""
    kind = "init container" if container.init else "container"
    return f"{kind} {container.name or '(unnamed)'}"


def namespace_of(manifest: Manifest) -> str | None:
    return manifest.resource.namespace


# ---------------------------------------------------------------------------------------
# ConfigMaps a pod mounts


def find_configmap(estate: Estate, namespace: str | None, name: str) -> Manifest | None:
    """The ConfigMap `name` of `namespace` declared in the estate (the last declaration)."""
    found = None
    for manifest in estate.of_kind_in(namespace or "", "ConfigMap", ""):
        if manifest.resource.name == name and manifest.resource.namespace == namespace:
            found = manifest
    return found


def configmap_text(configmap: Manifest, key: str) -> str | None:
    """The text of `data.<key>` of a ConfigMap (binaryData is not read)."""
    value = as_map(configmap.obj.get("data")).get(key)
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """A file a pod sees from a ConfigMap: the ConfigMap, the key, the file name."""

    configmap: Manifest
    key: str
    filename: str
    text: str

    def describe(self) -> str:
        return f"ConfigMap {self.configmap.resource.name} key {self.key}"


@dataclass(frozen=True, slots=True)
class MountedConfig:
    files: list[ConfigFile]
    missing: list[str]  # ConfigMaps mounted but not declared in the estate


def _configmap_sources(volume: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The configMap sources of a volume: `configMap`, or `projected.sources[].configMap`."""
    if isinstance(volume.get("configMap"), Mapping):
        yield volume["configMap"]
    for source in as_list(as_map(volume.get("projected")).get("sources")):
        if isinstance(as_map(source).get("configMap"), Mapping):
            yield source["configMap"]


def _secret_configs(manifest: Manifest, estate: Estate, volume: Mapping[str, Any],
                    patterns: Sequence[str]) -> list[str]:
    """Secrets of a volume that may hold a matching config file: by their `items` paths, by
    the keys of the Secret when the estate declares it, or unknown (then assumed so)."""
    sources = [(as_map(volume.get("secret")), "secretName")] + [
        (as_map(as_map(p).get("secret")), "name")
        for p in as_list(as_map(volume.get("projected")).get("sources"))]
    found = []
    for source, name_key in sources:
        name = source.get(name_key)
        if not isinstance(name, str):
            continue
        items = source.get("items")
        if isinstance(items, list):
            files = [str(as_map(i).get("path", "")) for i in items]
        else:
            declared = next((m for m in estate.of_kind("Secret", "")
                             if m.resource.name == name
                             and m.resource.namespace == namespace_of(manifest)), None)
            if declared is None:
                found.append(f"Secret {name}")
                continue
            files = [*as_map(declared.obj.get("data")), *as_map(declared.obj.get("stringData"))]
        if any(fnmatch.fnmatchcase(f.rsplit("/", 1)[-1], p) for f in files for p in patterns):
            found.append(f"Secret {name}")
    return found


def mounted_configs(manifest: Manifest, estate: Estate, container: Container,
                    patterns: Sequence[str] = ("*.conf",)) -> MountedConfig:
    """The ConfigMap files a container reads: the pod's configMap (and projected) volumes
    mounted by the container itself or by an init container (charts often copy config from
    a mounted ConfigMap to an emptyDir in an init container), whose file name matches one of
    `patterns`. `items` are honoured (only those keys, under their `path`). ConfigMaps the
    estate does not declare, and mounted Secrets (not read), are listed in `missing`."""
    found = pod_spec(manifest)
    if found is None:
        return MountedConfig([], [])
    spec = found[0]
    mounted: set[str] = set()
    for key in ("initContainers", "containers"):
        for index, item in enumerate(as_list(spec.get(key))):
            pointer = f"{found[1]}/{key}/{index}"
            if key == "initContainers" or pointer == container.pointer:
                for mount in as_list(as_map(item).get("volumeMounts")):
                    name = as_map(mount).get("name")
                    if isinstance(name, str):
                        mounted.add(name)
    files: list[ConfigFile] = []
    missing: list[str] = []
    for volume in as_list(spec.get("volumes")):
        volume = as_map(volume)
        if volume.get("name") not in mounted:
            continue
        # A Secret volume may hold the config file (Odoo's odoo.conf carries the database
        # password): its content is not read, so the settings are unknown, as for a
        # ConfigMap the estate does not declare.
        missing.extend(_secret_configs(manifest, estate, volume, patterns))
        for source in _configmap_sources(volume):
            name = source.get("name")
            if not isinstance(name, str):
                continue
            configmap = find_configmap(estate, namespace_of(manifest), name)
            if configmap is None:
                if source.get("optional") is not True:
                    missing.append(name)
                continue
            items = source.get("items")
            if isinstance(items, list):
                wanted = [(str(as_map(i).get("key")), str(as_map(i).get("path")))
                          for i in items if as_map(i).get("key") is not None]
            else:
                wanted = [(str(k), str(k)) for k in as_map(configmap.obj.get("data"))]
            for key, path in wanted:
                filename = path.rsplit("/", 1)[-1]
                text = configmap_text(configmap, key)
                if text is not None and any(fnmatch.fnmatchcase(filename, p)
                                            for p in patterns):
                    files.append(ConfigFile(configmap, key, filename, text))
    return MountedConfig(files, missing)


# ---------------------------------------------------------------------------------------
# Command lines and environment


@dataclass(frozen=True, slots=True)
class Setting:
    """A setting found for a container: its value (text), the pointer to where it is written
    in the workload (or the container's pointer when it comes from a ConfigMap) and a
    human-readable source."""

    value: str
    pointer: str
    source: str
    from_command_line: bool


@functools.lru_cache(maxsize=4096)
def _split(text: str) -> tuple[str, ...]:
    """Shell words (or blank-separated ones when the quoting is broken); kept per text, as
    the same command lines and config lines recur across an estate's workloads."""
    try:
        return tuple(shlex.split(text))
    except ValueError:
        return tuple(text.split())


def command_tokens(container: Container) -> list[tuple[str, str]]:
    """Tokens of `command` then `args`, each with the pointer of the item it came from.
    Items with spaces (a `sh -c "redis-server --maxmemory 2gb"` script) are split as a
    shell would."""
    tokens: list[tuple[str, str]] = []
    for key in ("command", "args"):
        for index, item in enumerate(as_list(container.spec.get(key))):
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                pointer = f"{container.pointer}/{key}/{index}"
                tokens.extend((token, pointer) for token in _split(str(item)))
    return tokens


def env_tokens(container: Container, names: Iterable[str]) -> list[tuple[str, str]]:
    """Tokens of literal `env` values of the named variables (e.g. bitnami's
    `REDIS_EXTRA_FLAGS`), each with the pointer of the value."""
    wanted = set(names)
    tokens: list[tuple[str, str]] = []
    for index, item in enumerate(as_list(container.spec.get("env"))):
        item = as_map(item)
        if item.get("name") in wanted and isinstance(item.get("value"), str):
            pointer = f"{container.pointer}/env/{index}/value"
            tokens.extend((token, pointer) for token in _split(item["value"]))
    return tokens


def flag_values(tokens: Sequence[tuple[str, str]], flag: str) -> list[tuple[str, str]]:
    """Values of `--flag value` and `--flag=value` in order (the last one wins where the
    program reads flags left to right). Flag names compare case-insensitively."""
    name = "--" + flag.lower()
    found: list[tuple[str, str]] = []
    for index, (token, pointer) in enumerate(tokens):
        lowered = token.lower()
        if lowered == name and index + 1 < len(tokens):
            found.append(tokens[index + 1])
        elif lowered.startswith(name + "="):
            found.append((token[len(name) + 1:], pointer))
    return found


def has_token(tokens: Sequence[tuple[str, str]], token: str) -> bool:
    return any(t == token or t.startswith(token + "=") for t, _ in tokens)


# ---------------------------------------------------------------------------------------
# Redis


REDIS_IMAGES = ["redis", "redis-stack", "redis-stack-server", "redis-cluster", "valkey",
                "valkey-cluster", "keydb"]
"""Image names (last path component, see `image_name`) of Redis-compatible servers: the
official `redis` and `valkey/valkey` images, bitnami's `redis`, `redis-cluster`, `valkey`,
`valkey-cluster`, `redis/redis-stack(-server)` and KeyDB. Not sentinels or exporters."""

REDIS_ENV_FLAGS = ["REDIS_EXTRA_FLAGS", "VALKEY_EXTRA_FLAGS", "REDIS_ARGS"]
"""Environment variables whose value is appended to the server's command line: bitnami's
`REDIS_EXTRA_FLAGS`/`VALKEY_EXTRA_FLAGS`, redis-stack's `REDIS_ARGS`."""

_REDIS_DECIMAL = re.compile(r"^\s*(\d+)\s*([kmg])\s*$", re.IGNORECASE)
_REDIS_DECIMAL_UNITS = {"k": 1000, "m": 1000 ** 2, "g": 1000 ** 3}


def redis_bytes(value: Any) -> int | None:
    """A Redis memory setting in bytes. Redis reads `1gb` as 1024³ but `1g` as 10⁹ (see the
    units note at the top of redis.conf); `checker.k8s.memory_setting` reads both as 1024³,
    so the single-letter decimal units are handled here first."""
    if isinstance(value, str):
        match = _REDIS_DECIMAL.match(value)
        if match:
            return int(match[1]) * _REDIS_DECIMAL_UNITS[match[2].lower()]
    return memory_setting(value)


def redis_directive(text: str, name: str) -> list[str]:
    """Values of a directive in a redis.conf text, in file order (the last one wins).
    Directive names are case-insensitive; quotes around the value are removed."""
    values = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = _split(stripped)
        if len(parts) >= 2 and parts[0].lower() == name:
            values.append(" ".join(parts[1:]))
    return values


def redis_settings(manifest: Manifest, estate: Estate, container: Container, name: str,
                   env_names: Iterable[str]) -> tuple[list[Setting], list[str]]:
    """Every place a Redis directive is set for a container, and the ConfigMaps mounted but
    not in the estate. Command-line flags (`command`/`args`, and env variables appended to
    the command line) override config files, so when any is present only they are returned
    (the last one). Otherwise each value found in the mounted `*.conf` files is returned:
    charts include several files (bitnami's redis.conf and master.conf) and a finding on
    any of them is worth a look."""
    tokens = command_tokens(container) + env_tokens(container, env_names)
    flags = flag_values(tokens, name)
    if flags:
        value, pointer = flags[-1]
        return [Setting(value, pointer, "the command line", True)], []
    mounted = mounted_configs(manifest, estate, container)
    settings = []
    for config in mounted.files:
        values = redis_directive(config.text, name)
        if values:
            settings.append(Setting(values[-1], container.pointer, config.describe(), False))
    return settings, mounted.missing


def redis_containers(manifest: Manifest, patterns: Iterable[str]) -> Iterator[Container]:
    """The Redis server containers of a workload (init containers excluded)."""
    from checker.k8s import containers

    wanted = list(patterns)
    for container in containers(manifest, init=False):
        if image_matches(container.spec.get("image"), wanted):
            yield container


# ---------------------------------------------------------------------------------------
# Odoo


ODOO_IMAGES = ["odoo*"]
"""Image names (last path component) of Odoo servers: the official `odoo`, bitnami's `odoo`,
and in-house builds whose name starts with odoo (`registry/erp/odoo-enterprise`, `odoo17`)."""


def odoo_options(text: str) -> Mapping[str, str] | None:
    """The `[options]` section of an odoo.conf text; None when it is not such a file."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    if not parser.has_section("options"):
        return None
    return dict(parser.items("options"))


def label_pointer(key: str) -> str:
    return "/metadata/labels/" + escape_pointer(key)
