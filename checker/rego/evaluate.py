"""Run every Rego rule that applies to an object in one engine query, and read the answers.

One query per object keeps the cost at one round trip (see docs/performance.md). When that
query fails, each rule is asked on its own so that the error names the rule at fault and the
other rules still report; a rule that runs past its time limit is not asked again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from checker.mappings import merge_over
from checker.model import Manifest, RuleInfo, Severity, ToolError, Violation
from checker.rego.engine import RegoEngine, RegoError, RegoTimeout, code_only
from checker.rego.gatekeeper import Constraint, review
from checker.rego.match import kinds_match
from checker.rego.policies import PolicyProblem, RegoModule, RegoRule
from checker.secrets import masked
from checker.tiers import TIERS

T = TypeVar("T")

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_WHOLE_DATA = re.compile(r"(?<![\w.])data\b(?!\s*\.\s*[A-Za-z_])")
"""`data` not followed by a name: the whole data document (`data[x]`, `walk(data)`)."""

ENGINE_UNUSABLE = frozenset({"connection", "unauthorized"})
"""Error kinds that say the engine cannot be reached at all (a remote OPA server)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A rule's verdict on one object, before it is stamped into a Finding."""

    rule: RuleInfo
    violation: Violation
    manifest: Manifest
    suppressed_by: str | None = None


@dataclass
class RegoPolicies:
    """Everything Rego that a run evaluates."""

    modules: list[RegoModule] = field(default_factory=list)
    rules: list[RegoRule] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    exception_packages: set[str] = field(default_factory=set)
    data: dict[str, Any] = field(default_factory=dict)
    default_data: dict[str, Any] = field(default_factory=dict)
    """Data of the bundled packs: the estate's data files override it, leaf by leaf."""

    def merged_data(self) -> dict[str, Any]:
        return merge_over(self.default_data, self.data)
    problems: list[PolicyProblem] = field(default_factory=list)
    _applies: dict[tuple[str, str], bool] = field(default_factory=dict, init=False,
                                                  repr=False, compare=False)

    def infos(self) -> list[RuleInfo]:
        return [r.info for r in self.rules] + [c.info for c in self.constraints]

    def inventory_kinds(self) -> tuple[Mapping[str, Any], ...] | None:
        """The kinds the modules read from `data.inventory`, or None for all of it.

        Each module that names the inventory says which kinds it reads in its package
        METADATA (`custom.inventory`, in `match.kinds`' shape); one that does not, or that
        reads `data` as a whole (`data[x]`, `walk(data)`), gets the whole inventory. OPA's
        cost to prepare a query grows with the data (~65 ms per MB, per query text:
        bench/rego.py), so an estate's inventory is sent only as far as it is read."""
        kinds: list[Mapping[str, Any]] = []
        for module in self.modules:
            if module.is_test:
                continue
            code = code_only(module.source)
            if _WHOLE_DATA.search(code):
                return None
            if "inventory" in code:
                declared = (module.package_metadata.get("custom") or {}).get("inventory")
                if declared is None:
                    return None
                kinds.extend(declared)
        return tuple(kinds)

    def may_apply(self, obj: Mapping[str, Any]) -> bool:
        """Could a rule or constraint be asked about `obj`? False only when the kinds of
        every rule and constraint leave it out: the engine need not see it at all."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            return self._may_apply(obj)
        known = self._applies.get((api_version, kind))
        if known is None:
            known = self._applies[api_version, kind] = self._may_apply(obj)
        return known

    def _may_apply(self, obj: Mapping[str, Any]) -> bool:
        if any(kinds_match(rule.kinds, obj) for rule in self.rules):
            return True
        for constraint in self.constraints:
            try:
                if kinds_match(constraint.match.get("kinds"), obj):
                    return True
            except (AttributeError, TypeError):  # malformed: matching reports it
                return True
        return False


@dataclass(frozen=True, slots=True)
class _Entry:
    key: str
    rule: RuleInfo
    ref: str
    where: str
    conftest: RegoRule | None = None
    constraint: Constraint | None = None


class RegoChecker:
    def __init__(self, engine: RegoEngine, policies: RegoPolicies, *,
                 timeout: float | None = None) -> None:
        self.engine = engine
        self.policies = policies
        self.timeout = timeout
        self._rules: list[_Entry] = []
        self._constraints: dict[int, _Entry] = {}
        self._broken: set[str] = set()
        self._exceptions: list[_Entry] = []
        self._query = "x := 1"
        self._plain_query = ""
        self._plain_keys: set[str] = set()
        self._asked_kinds: set[tuple[str, str]] = set()
        self._by_kind: dict[tuple[str, str], list[_Entry]] = {}

    def start(self, inventory: Mapping[str, Any], checker_data: Mapping[str, Any],
              kinds: Iterable[tuple[str, str]] = ()) -> list[ToolError]:
        """Load modules and data; rules of modules that do not compile are reported.

        `inventory` is the estate in Gatekeeper's shape; `checker_data` goes under
        `data.gitops_checker` (namespace tiers and their requirements). `kinds`: the
        (apiVersion, kind) of the objects that will be asked: for those, the plain query
        evaluates only the rules whose kinds they are (the others are not evaluated at
        all, where otherwise their answers would be dropped: ~25% of OPA's time). Only for
        an engine of this run's own (one that streams): a remote server's data is shared
        with other runs, and may not even be sent."""
        modules = {m.path: m.source for m in self.policies.modules}
        streams = getattr(self.engine, "query_each", None) is not None
        self._asked_kinds = {(api_version, kind) for api_version, kind in kinds
                             if isinstance(api_version, str) and isinstance(kind, str)} \
            if streams else set()
        asked: dict[str, dict[str, dict[str, bool]]] = {}
        for index, rule in enumerate(self.policies.rules):
            if not rule.kinds or not self._asked_kinds:
                continue
            table = asked[f"r{index}"] = {}
            for api_version, kind in self._asked_kinds:
                if kinds_match(rule.kinds, {"apiVersion": api_version, "kind": kind}):
                    table.setdefault(api_version, {})[kind] = True
        data = {**self.policies.merged_data(), "inventory": inventory,
                "gitops_checker": {**checker_data, "asked": asked} if asked else checker_data}
        problems = self.engine.load(modules, data)
        failed = {p.path for p in problems if p.path}
        errors = [ToolError("policy", f"policy does not compile: {p.message}", p.path, p.line)
                  for p in problems]
        unlocated = [p for p in problems if not p.path]
        for index, rule in enumerate(self.policies.rules):
            if rule.path in failed or unlocated:
                continue
            self._rules.append(_Entry(f"r{index}", rule.info, rule.ref,
                                      f"{rule.path}:{rule.line}", conftest=rule))
        for index, constraint in enumerate(self.policies.constraints):
            if any(m.path in failed for m in constraint.template.modules) or unlocated:
                errors.append(ToolError(
                    "policy", f"constraint {constraint.info.id} not evaluated: its template "
                    "does not compile", constraint.manifest.location.path,
                    constraint.manifest.location.line))
                continue
            location = constraint.manifest.location
            self._constraints[index] = _Entry(
                f"g{index}", constraint.info, constraint.ref, f"{location.path}:{location.line}",
                constraint=constraint)
        for index, package in enumerate(sorted(self.policies.exception_packages)):
            module = next(m for m in self.policies.modules if m.package == package)
            if module.path in failed:
                continue
            self._exceptions.append(_Entry(f"x{index}", _EXCEPTION_INFO, f"data.{package}."
                                           "exception", module.path))
        self._query = _batch_query([*self._rules, *self._constraints.values(),
                                    *self._exceptions])
        plain = [*self._rules, *self._exceptions]
        self._plain_query = "; ".join(
            f"{e.key} := [x | data.gitops_checker.asked.{e.key}[input.apiVersion][input.kind]; "
            f"x := {e.ref}]" if e.key in asked else f"{e.key} := [x | x := {e.ref}]"
            for e in plain)
        self._plain_keys = {e.key for e in plain}
        self._by_kind.clear()
        return errors

    def check_many(self, items: Iterable[tuple[Manifest, Sequence[int]]], *,
                   chunk: int = 64) -> Iterator[tuple[list[Outcome], list[ToolError]]]:
        """`check` over many objects, in order. Objects the plain query serves are asked
        together when the engine can stream answers (the worker): OPA evaluates the next
        while this process reads the last. The worker should never wait for this process:
        the next batch is made ready (its request pickled) while OPA answers this one, and
        asked before this one's objects are judged when judging them asks OPA nothing."""
        each = getattr(self.engine, "query_each", None)
        batches = _batches(items, chunk)
        batch = next(batches, None)
        plan = self._plan(batch, each) if batch is not None else None
        asking: _Asking | None = None  # the batch's plain query, when asked ahead
        try:
            while batch is not None and plan is not None:
                asking = asking or self._open(plan, each)
                following = next(batches, None)
                ahead = None
                while self._read_one(asking):
                    if ahead is None and following is not None:
                        ahead = self._plan(following, each)  # while OPA works on the rest
                answers, asking = asking.answers, None
                if following is not None and ahead is not None and \
                        self._judged_from(plan, answers):
                    asking = self._open(ahead, each)
                for position, (manifest, indexes) in enumerate(batch):
                    yield self._check(manifest, indexes, answers.get(position))
                # What each object is asked depends on the rules switched off so far: a
                # plan made before this batch's were is made again.
                if following is not None and (ahead is None or ahead.broken != self._broken):
                    ahead = self._plan(following, each)
                batch, plan = following, ahead
        finally:
            if asking is not None:
                asking.close()

    def _plan(self, batch: Sequence[tuple[Manifest, Sequence[int]]], each: Any) -> _Plan:
        """Which objects of a batch the plain query serves, their inputs and the request."""
        asked, plain = [], []
        for position, (manifest, indexes) in enumerate(batch):
            entries = self._entries(manifest, indexes)
            if entries:
                asked.append(position)
                if each is not None and self._plain_usable(entries, manifest.obj):
                    plain.append(position)
        shown = [masked(batch[p][0].obj) for p in plain]
        encode = getattr(self.engine, "encode_each", None)
        encoded = encode(self._plain_query, shown) if plain and encode is not None else None
        return _Plan(asked, plain, shown, encoded, frozenset(self._broken))

    def _open(self, plan: _Plan, each: Any) -> _Asking:
        """Ask a batch's plain query: the request is sent (the first answer read)."""
        if not plan.plain:
            return _Asking(plan, None)
        stream = each(self._plain_query, plan.shown, self.timeout, encoded=plan.encoded) \
            if plan.encoded is not None else each(self._plain_query, plan.shown, self.timeout)
        asking = _Asking(plan, stream)
        self._read_one(asking)
        return asking

    @staticmethod
    def _read_one(asking: _Asking) -> bool:
        """Read the next answer; False when there are no more (all read, or a timeout: the
        rule at fault is found and switched off by `_check` before the rest of the batch
        is asked, one by one)."""
        stream = asking.stream
        if stream is None:
            return False
        try:
            answer = next(stream, None)
            if answer is None:
                asking.close()
                return False
            if isinstance(answer, RegoError) and answer.kind in ENGINE_UNUSABLE:
                raise answer
            asking.answers[asking.plan.plain[len(asking.answers)]] = answer
            if isinstance(answer, RegoTimeout) or len(asking.answers) == len(asking.plan.plain):
                asking.close()
                return False
            return True
        except BaseException:
            asking.close()
            raise

    @staticmethod
    def _judged_from(plan: _Plan, answers: Mapping[int, Any]) -> bool:
        """Whether judging the batch's objects asks the engine nothing: every object asked
        is served by the plain query, which answered each without error."""
        return len(plan.plain) == len(plan.asked) and all(
            not isinstance(answers.get(position, RegoError("", [])), RegoError)
            for position in plan.plain)

    def _entries(self, manifest: Manifest, constraint_indexes: Sequence[int]) -> list[_Entry]:
        """What `manifest` is asked: the conftest rules whose kinds it is (and that are not
        switched off), its constraints, and the exception rules if anything is asked."""
        entries = [e for e in self._rules_for(manifest.obj) if e.rule.id not in self._broken]
        entries += [self._constraints[i] for i in constraint_indexes if i in self._constraints
                    and self._constraints[i].rule.id not in self._broken]
        if entries:
            entries += [e for e in self._exceptions if e.ref not in self._broken]
        return entries

    def _rules_for(self, obj: Mapping[str, Any]) -> list[_Entry]:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        key = (api_version, kind) if isinstance(api_version, str) and isinstance(kind, str) \
            else None
        found = self._by_kind.get(key) if key is not None else None
        if found is None:
            found = [e for e in self._rules
                     if e.conftest is None or kinds_match(e.conftest.kinds, obj)]
            if key is not None:
                self._by_kind[key] = found
        return found

    def check(self, manifest: Manifest, constraint_indexes: Sequence[int]
              ) -> tuple[list[Outcome], list[ToolError]]:
        return self._check(manifest, constraint_indexes, None)

    def _check(self, manifest: Manifest, constraint_indexes: Sequence[int],
               plain_answer: list[dict[str, Any]] | RegoError | None
               ) -> tuple[list[Outcome], list[ToolError]]:
        """`plain_answer`: the plain query's answer for the object, already asked (or its
        failure); used only if the plain query still serves the object."""
        entries = self._entries(manifest, constraint_indexes)
        if not entries:
            return [], []
        errors: list[ToolError] = []
        plain = self._plain_usable(entries, manifest.obj)
        try:
            if plain and plain_answer is not None:
                if isinstance(plain_answer, RegoError):
                    raise plain_answer
                answers = self._plain_answers(plain_answer)
            elif plain:
                answers = self._ask_plain(masked(manifest.obj))
            else:
                answers = self._ask(entries, _payload(manifest))
        except RegoError as exc:
            if exc.kind in ENGINE_UNUSABLE:
                raise  # not a rule's fault: asking each rule again would only repeat it
            answers = {}
            payload = _payload(manifest)
            for entry in entries:
                try:
                    answers.update(self._ask([entry], payload))
                except RegoTimeout:
                    self._broken.add(entry.ref if entry.rule is _EXCEPTION_INFO
                                     else entry.rule.id)
                    errors.append(self._error(entry, manifest, f"did not finish within "
                                              f"{self.timeout:g} s; not evaluated for this or "
                                              "any further object"))
                except RegoError as exc:
                    errors.append(self._error(entry, manifest, f"failed: {exc}"))
        excepted = self._excepted(answers)
        outcomes: list[Outcome] = []
        for entry in entries:
            if entry.key not in answers or entry.rule is _EXCEPTION_INFO:
                continue
            try:
                violations = list(_violations(answers[entry.key], entry.rule))
            except ValueError as exc:
                errors.append(self._error(entry, manifest, f"returned {exc}"))
                continue
            suppressed = None
            # conftest: `rules := ["x"]` excepts deny_x/violation_x/warn_x, "" plain deny
            if entry.conftest is not None and (entry.conftest.suffix or "") in excepted.get(
                    entry.conftest.package, ()):
                suppressed = f"conftest exception (data.{entry.conftest.package}.exception)"
            outcomes.extend(Outcome(entry.rule, v, manifest, suppressed) for v in violations)
        return outcomes, errors

    def _plain_usable(self, entries: Sequence[_Entry], obj: Mapping[str, Any]) -> bool:
        """The plain query holds every conftest rule and exception: usable when this object
        is asked some of those only (no constraint matches), none has been switched off
        (the answers of rules not asked about it are dropped) and, if the query evaluates
        rules by the kinds `start` was told of, the object is of one of those."""
        return bool(entries) and bool(self._plain_query) and all(
            e.constraint is None for e in entries) and not any(
            (e.ref if e.rule is _EXCEPTION_INFO else e.rule.id) in self._broken
            for e in (*self._rules, *self._exceptions)) and (
            not self._asked_kinds or self._told_kind(obj))

    def _told_kind(self, obj: Mapping[str, Any]) -> bool:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        return isinstance(api_version, str) and isinstance(kind, str) and \
            (api_version, kind) in self._asked_kinds

    def _ask_plain(self, shown: Mapping[str, Any]) -> dict[str, Any]:
        return self._plain_answers(self.engine.query(self._plain_query, shown, self.timeout))

    def _plain_answers(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        if not rows:
            return {}
        return {k: v for k, v in rows[0].items() if k in self._plain_keys}

    def _ask(self, entries: Sequence[_Entry], payload: Mapping[str, Any]) -> dict[str, Any]:
        """One evaluation of the batch query with the given entries switched on."""
        run = {entry.key: True for entry in entries}
        rows = self.engine.query(self._query, {**payload, "run": run}, self.timeout)
        if not rows:
            return {}
        return {k: v for k, v in rows[0].items() if k in run}

    def _excepted(self, answers: Mapping[str, Any]) -> dict[str, set[str]]:
        excepted: dict[str, set[str]] = {}
        for entry in self._exceptions:
            names: set[str] = set()
            for value in answers.get(entry.key) or []:
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, list):
                        names.update(str(n) for n in item)
                    elif isinstance(item, str):
                        names.add(item)
            excepted[entry.ref.removeprefix("data.").removesuffix(".exception")] = names
        return excepted

    @staticmethod
    def _error(entry: _Entry, manifest: Manifest, what: str) -> ToolError:
        # OPA quotes the operands of failed built-ins (`parsing "…"`): input values, which
        # may be sensitive, are not repeated.
        what = _QUOTED.sub('"…"', what)
        return ToolError("policy", f"rule {entry.rule.id} ({entry.where}) {what} on "
                         f"{manifest.resource.display()}", manifest.location.path,
                         manifest.location.line)


def _payload(manifest: Manifest) -> dict[str, Any]:
    """The batch query's input. Policies never see Secret values; `review` is rebuilt around
    the object in Rego, so the object crosses into OPA once."""
    return {"object": masked(manifest.obj), "review": review(manifest)}


@dataclass(frozen=True, slots=True)
class _Plan:
    """A batch made ready: the positions asked anything, those the plain query serves and
    their inputs, the request pickled (None: the engine sends its own), and the rules off
    when it was made."""

    asked: list[int]
    plain: list[int]
    shown: list[Any]
    encoded: bytes | None
    broken: frozenset[str]


@dataclass
class _Asking:
    """A batch's plain query under way: its answers so far, by position in the batch."""

    plan: _Plan
    stream: Iterator[Any] | None
    answers: dict[int, Any] = field(default_factory=dict)

    def close(self) -> None:
        """Stop reading (a worker with answers still coming is stopped by the stream)."""
        stream, self.stream = self.stream, None
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


_EXCEPTION_INFO = RuleInfo("exception", "exception", Severity.INFO, "policy",
                           "conftest exception rules (not a finding of their own)", "rego")


def _batch_query(entries: Sequence[_Entry]) -> str:
    """The switchable query text of the run: every entry, each switched on by `input.run`.

    OPA prepares each distinct query text once, at a cost that grows with the data loaded
    (the inventory): ~65 ms and ~12 MB per MB of data, kept for the run (bench/rego.py). A
    text that varied with the constraints an object matches, or a text per rule for the
    fallback, would pay that again and again; switching entries on through the input does
    not. The switches and the `with input as o` of each entry cost ~0.5 ms per object, so
    objects that need just the conftest rules use a second, plain text (input = the object):
    two prepares per run in all. Locals (`o`, `rv`) carry the outer input into `with`, which
    inside a comprehension would otherwise read the replaced one.
    """
    expressions = []
    for entry in entries:
        if entry.constraint is not None:
            parameters = json.dumps(entry.constraint.parameters
                                    if entry.constraint.parameters is not None else {})
            expressions.append(
                f"{entry.key} := [x | input.run.{entry.key}; o := input.object; "
                f'rv := object.union(input.review, {{"object": o}}); '
                f'x := {entry.ref} with input as {{"review": rv, "parameters": {parameters}}}]')
        else:
            expressions.append(f"{entry.key} := [x | input.run.{entry.key}; o := input.object; "
                               f"x := {entry.ref} with input as o]")
    return "; ".join(expressions) or "x := 1"


def _violations(value: Any, rule: RuleInfo) -> Iterable[Violation]:
    """Results of one rule as violations: strings, or objects with `msg`."""
    for result in value:
        items = result if isinstance(result, list) else [result]
        for item in items:
            if item is True:
                yield Violation(rule.description)
            elif item is False or item is None:
                continue
            elif isinstance(item, str):
                yield Violation(item)
            elif isinstance(item, dict) and not item:
                continue  # a partial object rule with no entries: nothing fired
            elif isinstance(item, dict):
                message = item.get("msg", item.get("message"))
                if not isinstance(message, str):
                    raise ValueError("a result object without a string `msg`")
                pointer = item.get("pointer", item.get("field", ""))
                if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
                    pointer = ""
                details = {k: v for k, v in item.items()
                           if k not in ("msg", "message", "pointer", "field", "tier")}
                if set(details) == {"details"} and isinstance(details["details"], dict):
                    details = details["details"]
                tier = item.get("tier")
                yield Violation(message, pointer, details,
                                tier if isinstance(tier, str) and tier in TIERS else None)
            else:
                raise ValueError(f"a result of type {type(item).__name__} (expected a string "
                                 "or an object with `msg`)")
