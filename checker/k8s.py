"""Reading Kubernetes objects the way rules need to: pod templates with their pointers,
quantities, durations, label selectors and cron schedules. Shared by every rule pack so that
`500m`, `1Gi` or `@every 6h` mean one thing everywhere."""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from checker.model import Manifest

WORKLOAD_KINDS: Mapping[tuple[str, str], str] = {
    ("", "Pod"): "/spec",
    ("apps", "Deployment"): "/spec/template/spec",
    ("apps", "StatefulSet"): "/spec/template/spec",
    ("apps", "DaemonSet"): "/spec/template/spec",
    ("apps", "ReplicaSet"): "/spec/template/spec",
    ("", "ReplicationController"): "/spec/template/spec",
    ("batch", "Job"): "/spec/template/spec",
    ("batch", "CronJob"): "/spec/jobTemplate/spec/template/spec",
}
"""Kinds that carry a pod spec, and the pointer to it."""


@dataclass(frozen=True, slots=True)
class Container:
    spec: Mapping[str, Any]
    pointer: str  # e.g. /spec/template/spec/containers/0
    init: bool

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))


def pod_spec(manifest: Manifest) -> tuple[Mapping[str, Any], str] | None:
    """The pod spec of a workload and its pointer, or None for other kinds."""
    pointer = WORKLOAD_KINDS.get((manifest.resource.group, manifest.resource.kind))
    if pointer is None:
        return None
    node: Any = manifest.obj
    for part in pointer.strip("/").split("/"):
        node = node.get(part) if isinstance(node, Mapping) else None
    return (node, pointer) if isinstance(node, Mapping) else None


def pod_labels(manifest: Manifest) -> Mapping[str, str]:
    """Labels of the pods a workload creates (or of the Pod itself)."""
    found = pod_spec(manifest)
    if found is None:
        return {}
    template_pointer = found[1].removesuffix("/spec")
    node: Any = manifest.obj
    for part in template_pointer.strip("/").split("/"):
        node = node.get(part) if isinstance(node, Mapping) else None
    metadata = node.get("metadata") if isinstance(node, Mapping) else None
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def containers(manifest: Manifest, *, init: bool = True) -> Iterator[Container]:
    """Every container (and init container) of a workload, with its pointer."""
    found = pod_spec(manifest)
    if found is None:
        return
    spec, pointer = found
    keys = ("initContainers", "containers") if init else ("containers",)
    for key in keys:
        items = spec.get(key)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if isinstance(item, Mapping):
                yield Container(item, f"{pointer}/{key}/{index}", key == "initContainers")


_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
_SUFFIX = {
    None: Decimal(1), "m": Decimal("0.001"), "k": Decimal(10) ** 3, "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9, "T": Decimal(10) ** 12, "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18, "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity (`500m`, `1.5Gi`, `2`, `1e3`) as a number; None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value.strip())
    if not match:
        return None
    try:
        return Decimal(match[1]) * _SUFFIX[match[2]]
    except InvalidOperation:
        return None


_MEMORY_TEXT = re.compile(r"^\s*([0-9.]+)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000 ** 2, "mb": 1024 ** 2,
                 "g": 1000 ** 3, "gb": 1024 ** 3, "t": 1000 ** 4, "tb": 1024 ** 4,
                 "ki": 1024, "kib": 1024, "mi": 1024 ** 2, "mib": 1024 ** 2,
                 "gi": 1024 ** 3, "gib": 1024 ** 3}


def memory_setting(value: Any) -> int | None:
    """Bytes from an application's memory setting, read as Redis reads its units (`1k` is
    1000, `1kb` 1024, `2gb` 2·1024³), Odoo's plain byte counts, or a Kubernetes quantity
    (`1Gi`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    match = _MEMORY_TEXT.match(value)
    if match and (match[2] or "").lower() in _MEMORY_UNITS:
        return int(Decimal(match[1]) * _MEMORY_UNITS[(match[2] or "").lower()])
    parsed = quantity(value)
    return int(parsed) if parsed is not None else None


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_DURATION_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60,
                     "h": 3600, "d": 86400}


def duration(value: Any) -> dt.timedelta | None:
    """A Go duration (`720h`, `1h30m`, `90s`; `d` accepted as k8up writes it) as a timedelta."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    total = 0.0
    position = 0
    for part in _DURATION_PART.finditer(text):
        if part.start() != position:
            return None
        total += float(part[1]) * _DURATION_SECONDS[part[2]]
        position = part.end()
    if position != len(text) or position == 0:
        return None
    return dt.timedelta(seconds=total)


_DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
                "@hourly": "0 * * * *"}


class ScheduleGaps(NamedTuple):
    shortest: dt.timedelta
    longest: dt.timedelta


def schedule_gap(expression: Any) -> dt.timedelta | None:
    """The longest time between two runs of a cron schedule (`0 */6 * * *`, `@daily`,
    `@every 4h`): how old the newest backup can get. None if the schedule cannot be read."""
    gaps = schedule_gaps(expression)
    return None if gaps is None else gaps.longest


def schedule_gaps(expression: Any) -> ScheduleGaps | None:
    """The shortest and the longest time between two runs of a cron schedule; None if it
    cannot be read."""
    if not isinstance(expression, str):
        return None
    text = expression.strip()
    if text.startswith("@every "):
        every = duration(text.removeprefix("@every ").strip())
        return None if every is None else ScheduleGaps(every, every)
    text = _DESCRIPTORS.get(text, text)
    text = re.sub(r"^(CRON_TZ|TZ)=\S+\s+", "", text)
    return _cron_gaps(text)


_CALENDAR_START = dt.date(2026, 1, 1)
_WEEK = 7
"""Days with runs chosen by the weekday alone repeat every week;"""
_LEAP_CYCLE = 1_461
"""by the date alone (month lengths, leap days), every 4 years;"""
_CALENDAR_CYCLE = 10_227
"""by both (`13 * 5`, `* 2 MON#1`, `LW`), every 28 years: 4 × 7 years, after which dates
and weekdays line up again (until 2100, which is not a leap year)."""
_DAY = 86_400


@functools.lru_cache(maxsize=1024)
def _cron_gaps(text: str) -> ScheduleGaps | None:
    """Worked out from the fields instead of simulated run by run (a simulation costs
    milliseconds per schedule): the runs of a day are the product of its hours, minutes and
    seconds; the days with runs are read off a calendar with cronsim's own day matching,
    over one period of the fields that choose them, the gap from the period's last run to
    the next period's first included. None when it cannot be read or never runs."""
    from cronsim import CronSim, CronSimError

    try:
        sim = CronSim(text, dt.datetime.combine(_CALENDAR_START, dt.time()))
    except (CronSimError, ValueError):
        return None
    first, last, within = _gaps_within_a_day(sim.hours, sim.minutes, sim.seconds)
    period = _days_period(sim)
    days = _days_with_runs(sim, period)
    if not days:
        return None
    across = [_DAY * (b - a) - last + first
              for a, b in itertools.pairwise([*days, days[0] + period])]
    candidates = across + list(within or ())
    return ScheduleGaps(dt.timedelta(seconds=min(candidates)),
                        dt.timedelta(seconds=max(candidates)))


def _days_period(sim: Any) -> int:
    """The number of days after which the days a schedule runs on repeat."""
    plain_weekdays = all(isinstance(w, int) for w in sim.weekdays)
    every_weekday = plain_weekdays and len({w % 7 for w in sim.weekdays}) == 7
    every_date = set(sim.days) >= set(range(1, 32)) and set(sim.months) >= set(range(1, 13))
    if plain_weekdays and every_date:
        return _WEEK
    if every_weekday and sim.LAST_WEEKDAY not in sim.days:  # (`LW`: the last weekday)
        return _LEAP_CYCLE
    return _CALENDAR_CYCLE


def _gaps_within_a_day(hours: Iterable[int], minutes: Iterable[int], seconds: Iterable[int]
                       ) -> tuple[int, int, tuple[int, int] | None]:
    """(first run, last run, (shortest, longest) gap between runs of one day), in seconds of
    the day. Consecutive runs differ in the second, the minute or the hour; each kind of
    step is its field's step less what the finer fields span."""
    h, m, s = sorted(hours), sorted(minutes), sorted(seconds)
    first = 3600 * h[0] + 60 * m[0] + s[0]
    last = 3600 * h[-1] + 60 * m[-1] + s[-1]
    steps: list[int] = []
    for values, unit, finer_span in ((s, 1, 0), (m, 60, s[-1] - s[0]),
                                     (h, 3600, 60 * (m[-1] - m[0]) + s[-1] - s[0])):
        differences = [b - a for a, b in itertools.pairwise(values)]
        if differences:
            steps += [unit * min(differences) - finer_span,
                      unit * max(differences) - finer_span]
    return first, last, (min(steps), max(steps)) if steps else None


def _days_with_runs(sim: Any, days: int) -> list[int]:
    """Ordinals of the days with runs, over `days` from the calendar's start."""
    day = _CALENDAR_START
    end = day + dt.timedelta(days=days)
    one = dt.timedelta(days=1)
    found = []
    months, match_day = sim.months, sim.match_day
    while day < end:
        if day.month not in months:
            day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
            continue
        if match_day(day):
            found.append(day.toordinal())
        day += one
    return found


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """A Kubernetes LabelSelector (`matchLabels`, `matchExpressions`) against labels.

    An empty selector matches everything; a malformed one matches nothing."""
    if selector is None:
        return True
    if not isinstance(selector, Mapping):
        return False
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping) or not isinstance(expressions, list):
        return False
    for key, value in match_labels.items():
        if labels.get(key) != value:
            return False
    for expression in expressions:
        if not isinstance(expression, Mapping):
            return False
        key, operator = str(expression.get("key")), expression.get("operator")
        values = expression.get("values") or []
        if not isinstance(values, list):
            return False
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def image_name(image: Any) -> str | None:
    """The last path component of an image's repository, lower-case, without registry, tag
    or digest: `docker.io/bitnami/redis:7.2@sha256:…` → `redis`."""
    if not isinstance(image, str) or not image.strip():
        return None
    text = image.strip().split("@", 1)[0]
    last = text.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower() or None


def image_matches(image: Any, patterns: Iterable[str]) -> bool:
    """Whether the image's name (see `image_name`) matches one of the shell-style patterns."""
    name = image_name(image)
    return name is not None and any(fnmatch.fnmatchcase(name, str(p).lower()) for p in patterns)


def first_matching_image(manifest: Manifest, patterns: Iterable[str]) -> str | None:
    """The image of the first regular container whose name matches (e.g. a database)."""
    wanted = list(patterns)
    for container in containers(manifest, init=False):
        if image_matches(container.spec.get("image"), wanted):
            return str(container.spec.get("image"))
    return None


def integer(value: Any) -> int | None:
    """An integer field that may arrive as a string of digits or an integral float; None for
    anything else (booleans too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return None


def labels_of(manifest: Manifest) -> Mapping[str, Any]:
    labels = (manifest.obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def annotations_of(manifest: Manifest) -> Mapping[str, Any]:
    annotations = (manifest.obj.get("metadata") or {}).get("annotations")
    return annotations if isinstance(annotations, Mapping) else {}


def escape_pointer(token: str) -> str:
    """One JSON-pointer token: `~` and `/` escaped (label keys have slashes)."""
    return token.replace("~", "~0").replace("/", "~1")
