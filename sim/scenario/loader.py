"""Reading scenario files: YAML with line numbers, ``extends``, and clear error messages.

``load_scenario`` turns a file (or a dict) into a validated, immutable :class:`Scenario`. Every
problem becomes a :class:`~sim.errors.Problem` naming the file, the line and the field path; a
misspelt key gets a "did you mean" hint.
"""
from __future__ import annotations

import copy
import os
import stat
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Mapping, Sequence, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import Problem, ScenarioError, did_you_mean
from .checks import check_scenario
from .rail_stages import expand as expand_rail, stage_names
from .schema import Scenario

LineMap = dict[tuple[str, ...], tuple[str, int]]  # field path -> (file, line)

MAX_FILE_BYTES = 2_000_000      # a scenario file is text of a few hundred lines; 2 MB is ample
MAX_DEPTH = 40                  # nesting levels of mappings and lists (a scenario needs about 10)
MAX_NODES = 100_000             # YAML nodes, counting what each alias repeats (a scenario has ~2,000)


class Unreadable(Exception):
    """A file that cannot be read as a scenario (message for a Problem)."""


def read_text(path: Path) -> str:
    """The UTF-8 text of a regular file of at most :data:`MAX_FILE_BYTES` bytes.

    The path is checked with ``os.stat`` before it is opened, and opened non-blocking, so that a
    FIFO, a device (``/dev/zero``), a folder or a symlink loop is refused instead of blocking or
    filling memory. Raises :class:`Unreadable` with a message fit for a :class:`Problem`.
    """
    name = os.fspath(path)
    if "\0" in name:
        raise Unreadable("the file name contains a NUL byte")
    try:
        info = os.stat(name)
        _check_regular(info)
        descriptor = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(descriptor, "rb") as stream:
            _check_regular(os.fstat(stream.fileno()))          # the file may have changed since stat
            raw = stream.read(MAX_FILE_BYTES + 1)               # /proc files report size 0
    except FileNotFoundError:
        raise Unreadable("file not found") from None
    except OSError as error:
        raise Unreadable(f"cannot read the file ({error.strerror or error.__class__.__name__})") from None
    except (ValueError, OverflowError) as error:             # e.g. a name the system cannot represent
        raise Unreadable(f"cannot read the file ({error})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise Unreadable(f"the file is larger than {MAX_FILE_BYTES:,} bytes, the limit for a scenario file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise Unreadable(f"not UTF-8 text (byte {error.start}, line {line})") from None


def _check_regular(info: os.stat_result) -> None:
    """Refuse anything but a regular file of bounded size."""
    if stat.S_ISDIR(info.st_mode):
        raise Unreadable("is a folder, not a scenario file")
    if not stat.S_ISREG(info.st_mode):
        raise Unreadable("not a regular file (a device, FIFO or socket): refusing to read it")
    if info.st_size > MAX_FILE_BYTES:
        raise Unreadable(f"the file is {info.st_size:,} bytes: the limit for a scenario file is {MAX_FILE_BYTES:,}")


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with limits checked while composing, before anything is built:
    nesting depth (:data:`MAX_DEPTH`), nodes counted with what every alias repeats
    (:data:`MAX_NODES`, against "billion laughs" alias bombs), and no recursive aliases."""

    def __init__(self, text: str):
        super().__init__(text)
        self._depth = 0
        self._nodes = 0
        self._sizes: dict[int, int] = {}    # id(node) -> nodes it stands for, once composed

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self._sizes:
                raise _limit(f"the alias *{event.anchor} is inside the node it refers to (a recursive alias)", event)
            node = super().compose_node(parent, index)
            self._count(self._sizes[id(node)], event)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _limit(f"nested more than {MAX_DEPTH} levels deep", event)
        before = self._nodes
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._count(1, event)
        self._sizes[id(node)] = self._nodes - before
        return node

    def _count(self, nodes: int, event: yaml.Event) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise _limit(f"more than {MAX_NODES:,} values, counting what each alias repeats "
                         "(an alias bomb?): a scenario needs far fewer", event)


class _LimitExceeded(yaml.composer.ComposerError):
    """Well-formed YAML beyond a limit of :class:`_BoundedLoader`."""


def _limit(message: str, event: yaml.Event) -> yaml.YAMLError:
    return _LimitExceeded(None, None, message, event.start_mark)


def read_yaml(path: Path, deferred: list[Problem] | None = None) -> tuple[Any, LineMap]:
    """Read and parse a YAML file (see :func:`read_text` and :func:`parse_yaml`)."""
    try:
        text = read_text(path)
    except Unreadable as error:
        raise ScenarioError(Problem(str(path), "", str(error))) from None
    return parse_yaml(text, str(path), deferred)


def parse_yaml(text: str, label: str, deferred: list[Problem] | None = None) -> tuple[Any, LineMap]:
    """Parse YAML text; return the data and where each field path was written.

    Besides malformed YAML, these are problems (with file, line and field path): duplicate keys
    in a mapping, an impossible date (``2025-02-30``), a value its tag cannot build
    (``!!int x``), and the limits of :class:`_BoundedLoader` (depth, aliases).

    Duplicate keys and unbuildable values are raised at once, unless ``deferred`` is a list:
    then they are added to it and the document is still built (a duplicate key keeps its last
    value, an unbuildable value is read as its text), so that validation can report the
    problems of the rest of the file beside them (see :func:`validate`).
    """
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
        lines, problems = _index_lines(root, label, loader)
        if problems and deferred is None:
            raise ScenarioError(sorted(problems, key=lambda problem: problem.line or 0))
        if deferred is not None:
            deferred.extend(problems)
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        message = problem if isinstance(error, _LimitExceeded) else f"malformed YAML: {problem}"
        raise ScenarioError(Problem(label, "", message, line)) from None
    finally:
        loader.dispose()
    return data, lines


def _index_lines(root: yaml.Node | None, label: str, loader: yaml.SafeLoader) -> tuple[LineMap, list[Problem]]:
    """Walk the composed YAML (iteratively, each node once: linear in the size of the text,
    whatever its depth or aliases) and return the line of every field path, with the problems
    found on the way: duplicate keys, and scalars their tag cannot build (impossible dates).
    What an alias repeats is indexed where its anchor is; a field below an alias gets the line
    of the alias (its nearest indexed parent)."""
    lines: LineMap = {}
    problems: list[Problem] = []
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())] if root is not None else []
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            problem = _scalar_problem(node, path, label, loader)
            if problem is not None:
                problems.append(problem)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = path + (str(index),)
                lines.setdefault(child, (label, item.start_mark.line + 1))
                stack.append((item, child))
        elif isinstance(node, yaml.MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":      # `<<: *base`: its keys are this mapping's
                    stack.append((value_node, path))
                    continue
                scalar = isinstance(key_node, yaml.ScalarNode)
                child = path + (str(key_node.value) if scalar else "<complex key>",)
                line = key_node.start_mark.line + 1
                lines[child] = (label, line)
                stack.append((value_node, child))
                problem = _scalar_problem(key_node, child, label, loader) if scalar else None
                if problem is not None:
                    problems.append(problem)
                    continue
                key = _key(key_node, loader)
                if key in first_line:
                    problems.append(Problem(label, ".".join(child), f"duplicate key {key_node.value!r}: "
                                            f"first at line {first_line[key]}, again at line {line}", line))
                else:
                    first_line[key] = line
    return lines, problems


def _key(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    """What makes two mapping keys the same key: the value a scalar builds (``1`` and ``0x1`` are
    one key); any other key (an unhashable one, reported when the document is built) is unique."""
    if isinstance(node, yaml.ScalarNode):
        try:
            value = _build(node, loader)
            hash(value)
            return value
        except (yaml.YAMLError, TypeError):
            pass
    return (node.tag, id(node))


def _scalar_problem(node: yaml.ScalarNode, path: tuple[str, ...], label: str,
                    loader: yaml.SafeLoader) -> Problem | None:
    """A scalar its tag cannot build (``2025-02-30``, ``!!int x``) as a Problem, else None."""
    try:
        _build(node, loader)
    except yaml.YAMLError:
        return None                            # reported with its mark when the document is built
    except (ValueError, TypeError, AttributeError, OverflowError):
        line, shown, tag = node.start_mark.line + 1, _shown(node.value, 40), node.tag
        node.tag = "tag:yaml.org,2002:str"     # if the document is still built, the value reads as its text
        if tag == "tag:yaml.org,2002:timestamp":
            return Problem(label, ".".join(path), f"not a real date: {shown}", line)
        return Problem(label, ".".join(path), f"cannot read {shown} as {tag.rsplit(':', 1)[-1]}", line)
    return None


def _build(node: yaml.ScalarNode, loader: yaml.SafeLoader) -> Any:
    """Build one scalar (cached by the loader for the whole document); after a failure the loader
    is left as it was, so that building the document reports the original error."""
    try:
        return loader.construct_object(node)
    except Exception:
        loader.recursive_objects.pop(node, None)
        raise


def merge(base: Any, override: Any) -> Any:
    """Deep-merge ``override`` into ``base``: mappings merge key by key, anything else replaces,
    and a key set to ``null`` in ``override`` is removed (back to the schema's default)."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            if value is None:
                merged.pop(key, None)
            elif key in base and isinstance(base[key], dict) and isinstance(value, dict) and _replaces(base[key], value):
                merged[key] = copy.deepcopy(value)
            else:
                merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def _replaces(base: dict, override: dict) -> bool:
    """A distribution given with another ``dist`` replaces the old one whole (no stale fields)."""
    return "dist" in override and override.get("dist") != base.get("dist")


def resolve_extends(data: Any, lines: LineMap, label: str, base_dir: Path,
                    seen: tuple[str, ...] = (), deferred: list[Problem] | None = None) -> tuple[Any, LineMap]:
    """Follow ``extends: other.yaml`` chains and merge them, child over parent.

    A base that cannot be read (missing, not a regular file, too large, a bad name) or that
    closes a cycle is a problem at the child's ``extends`` field; a problem *inside* a base
    file (malformed YAML, a bad value) points into the base file. ``deferred`` is passed on to
    :func:`parse_yaml` for every base.
    """
    if not isinstance(data, dict):
        raise ScenarioError(Problem(label, "", "expected a mapping of scenario fields at the top level", 1))
    if "extends" not in data:
        return data, lines
    parent_name = data["extends"]
    line = lines.get(("extends",), (label, None))[1]

    def problem(message: str) -> ScenarioError:
        return ScenarioError(Problem(label, "extends", message, line))

    if not isinstance(parent_name, str) or not parent_name.strip():
        raise problem("expected a file name")
    parent_path = base_dir / parent_name
    try:
        text = read_text(parent_path)
    except Unreadable as error:
        if str(error) == "file not found":
            raise problem(f"base scenario {_shown(parent_name)} not found (looked in {base_dir})") from None
        raise problem(f"base scenario {_shown(parent_name)}: {error}") from None
    resolved = _resolved(parent_path)
    if resolved in seen:
        raise problem(f"circular extends through {Path(resolved).name}")
    parent, parent_lines = parse_yaml(text, resolved, deferred)
    parent, parent_lines = resolve_extends(parent, parent_lines, resolved, Path(resolved).parent, seen + (resolved,),
                                           deferred)
    child = {key: value for key, value in data.items() if key != "extends"}
    return merge(parent, child), {**parent_lines, **lines}


def _resolved(path: Path) -> str:
    """The absolute, symlink-free form of a path that was just read (to spot extends cycles)."""
    try:
        return os.path.realpath(path)
    except (OSError, ValueError, RuntimeError):
        return os.path.abspath(path)


def _shown(name: str, limit: int = 80) -> str:
    """A file name for a message: quoted, and cut short if it is very long."""
    return repr(name) if len(name) <= limit else f"{name[:limit]!r}... ({len(name):,} characters)"


def set_dotted(data: dict, dotted: str, value: Any) -> dict:
    """Return a copy of ``data`` with the field at ``a.b.c`` set to ``value`` (list items by
    index). A path through a value that is neither a mapping nor a list, or a list index out of
    range, is a :class:`ScenarioError` naming the path."""
    result = copy.deepcopy(data)
    keys = dotted.split(".")
    node = result
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ScenarioError(Problem("<override>", dotted, f"{'.'.join(keys[:depth]) or 'the top level'} is a "
                                            f"list of {len(node)} items: expected an index 0-{len(node) - 1}, got {key!r}"))
            if last:
                node[int(key)] = value
            else:
                node = node[int(key)]
        elif isinstance(node, dict):
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
        else:
            raise ScenarioError(Problem("<override>", dotted, f"{'.'.join(keys[:depth])} is a single value "
                                        f"({node!r}), not a mapping: cannot set {key!r} inside it"))
    return result


def load_scenario(source: str | Path | Mapping[str, Any] | Scenario,
                  overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario from a YAML file path or a plain dict.

    ``overrides`` maps dotted field paths (``stages.passport.pools.foot.booths``) to values,
    applied after ``extends`` is resolved. Raises :class:`ScenarioError` on bad input.
    """
    if isinstance(source, Scenario):
        if not overrides:
            return source
        source = source.model_dump(mode="json", by_alias=True)
    deferred: list[Problem] = []      # problems found while reading, reported with the schema's
    if isinstance(source, Mapping):
        label, base_dir = "<scenario>", Path.cwd()
        data, lines = resolve_extends(dict(source), {}, label, base_dir, deferred=deferred)
    else:
        path = Path(source)
        label, base_dir = str(path), path.parent
        data, lines = read_yaml(path, deferred)
        data, lines = resolve_extends(data, lines, label, base_dir, (_resolved(path),), deferred)
    for dotted, value in (overrides or {}).items():
        data = set_dotted(data, dotted, value)
    scenario = validate(data, lines, label, deferred)
    # a station's stages are made from the station on every load: a change to one would be lost
    made = {("stages", name) for name in stage_names(scenario.rail)} if scenario.rail is not None else set()
    refused = [Problem(label, dotted, "is made from the rail block's stations and cannot be changed apart: change "
                       "its station under rail.stations (tracks, documents, gauge_change)", None)
               for dotted in overrides or {} if tuple(dotted.split(".")[:2]) in made]
    if refused:
        raise ScenarioError(refused)
    return scenario


def validate_model(model: type[BaseModel], data: Any, lines: LineMap, label: str) -> Any:
    """Validate ``data`` against a pydantic ``model``; problems name file, line and field path."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = [_problem(item, data, lines, label, model) for item in error.errors()]
        raise ScenarioError(_most_specific(problems)) from None


def _most_specific(problems: list[Problem]) -> list[Problem]:
    """Drop a union's alternative messages: keep one problem per path, and none for a path that
    has a more specific problem below it."""
    paths = [problem.path for problem in problems]
    kept, seen = [], set()
    for problem in problems:
        deeper = any(other.startswith(problem.path + ".") for other in paths if problem.path)
        if problem.path in seen or deeper:
            continue
        seen.add(problem.path)
        kept.append(problem)
    return kept


def validate(data: dict, lines: LineMap, label: str, read_problems: Sequence[Problem] = ()) -> Scenario:
    """Validate merged data against the schema, then the cross-field checks.

    ``read_problems`` are those found while reading the files (duplicate keys, impossible
    dates): they are reported together with the schema's problems, in file and line order,
    the schema's own complaint about a value already reported (a bad date read as text) left
    out. The cross-field checks run only on data that has none of either.
    """
    problems = data_problems(data, lines, label)
    if problems:
        raise ScenarioError(problems)
    if read_problems:
        try:
            validate_model(Scenario, data, lines, label)
            schema_problems: list[Problem] = []
        except ScenarioError as error:
            schema_problems = error.problems
        reported = {problem.path for problem in read_problems}
        problems = list(read_problems) + [problem for problem in schema_problems if problem.path not in reported]
        files = {file: order for order, file in enumerate(dict.fromkeys(problem.file for problem in problems))}
        raise ScenarioError(sorted(problems, key=lambda problem: (files[problem.file], problem.line is None,
                                                                  problem.line or 0)))
    scenario = validate_model(Scenario, data, lines, label)
    for path, message in check_scenario(scenario):
        file, dotted, line = _where(tuple(path.split(".")), lines, label)
        problems.append(Problem(file, dotted, message, line))
    if problems:
        raise ScenarioError(problems)
    return expand_rail(scenario)


def data_problems(data: Any, lines: LineMap, label: str) -> list[Problem]:
    """Problems in parsed data that the schema cannot see, whatever its source (file, dict,
    override): text that cannot be written as UTF-8 (a lone surrogate such as ``"\\ud800"``,
    which would fail later when printed or written to the report), and nesting deeper than
    :data:`MAX_DEPTH` (a dict built in code). A list or dict met again (through a YAML alias) is
    checked once."""
    problems: list[Problem] = []
    seen: set[int] = set()
    stack: list[tuple[Any, tuple[str, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, (dict, list, tuple)):
            if id(node) in seen:
                continue
            seen.add(id(node))
        if len(path) > MAX_DEPTH:
            file, dotted, line = _where(path[:MAX_DEPTH], lines, label)
            problems.append(Problem(file, dotted, f"nested more than {MAX_DEPTH} levels deep", line))
            continue
        if isinstance(node, str) and not _is_text(node):
            problems.append(_text_problem(node, path, lines, label))
        elif isinstance(node, dict):
            for key, value in node.items():
                child = path + (str(key),)
                if isinstance(key, str) and not _is_text(key):
                    problems.append(_text_problem(key, child, lines, label))
                else:
                    stack.append((value, child))
        elif isinstance(node, (list, tuple)):
            stack.extend((item, path + (str(index),)) for index, item in enumerate(node))
    return problems


def _is_text(value: str) -> bool:
    """Whether ``value`` can be written as UTF-8 (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_problem(value: str, path: tuple[str, ...], lines: LineMap, label: str) -> Problem:
    file, dotted, line = _where(path, lines, label)
    shown = value if len(value) <= 60 else value[:60] + "..."
    return Problem(file, dotted, f"not valid text: {shown!r} holds a character that cannot be written "
                   "as UTF-8 (a lone surrogate such as \\ud800)", line)


def _where(path: tuple[str, ...], lines: LineMap, label: str) -> tuple[str, str, int | None]:
    """(file, dotted path, line) for a field path: the nearest written ancestor gives the line."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            file, line = lines[path[:end]]
            return file, ".".join(path), line
    return label, ".".join(path), None


def _problem(item: dict, data: Any, lines: LineMap, label: str, model: type[BaseModel] = Scenario) -> Problem:
    """Turn one pydantic error into a Problem with a clean data path and a hint."""
    path: list[str] = []
    node = data
    for part in item["loc"]:
        if isinstance(node, dict) and part in node:
            node = node[part]
            path.append(str(part))
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            path.append(str(part))
        elif item["type"] == "extra_forbidden" and part == item["loc"][-1]:
            path.append(str(part))
    file, dotted, line = _where(tuple(path), lines, label)
    message = item["msg"]
    if item["type"] == "extra_forbidden":
        known = _known_fields(tuple(path[:-1]), data, model)
        message = f"unknown field {path[-1]!r}{did_you_mean(path[-1], known, 'expected one of')}"
    elif item["type"] == "missing":
        message = f"missing required field {str(item['loc'][-1])!r}"
        if not dotted.endswith(str(item["loc"][-1])):
            dotted = f"{dotted}.{item['loc'][-1]}" if dotted else str(item["loc"][-1])
    elif message.startswith("Value error, "):
        message = message[len("Value error, "):]
    else:
        message = _plain_message(item)
    return Problem(file, dotted, message, line)


_BOUNDS = {"greater_than_equal": ("ge", ">="), "greater_than": ("gt", ">"),
           "less_than_equal": ("le", "<="), "less_than": ("lt", "<")}
_EXPECTED = {"int_from_float": "a whole number", "int_parsing": "a whole number", "int_type": "a whole number",
             "float_parsing": "a number", "float_type": "a number", "bool_parsing": "true or false",
             "bool_type": "true or false", "string_type": "text", "list_type": "a list", "tuple_type": "a list",
             "dict_type": "a mapping of names to values", "model_type": "a mapping of fields",
             "date_from_datetime_parsing": "a date (YYYY-MM-DD)", "date_parsing": "a date (YYYY-MM-DD)",
             "date_type": "a date (YYYY-MM-DD)"}


def _plain_message(item: dict) -> str:
    """pydantic's wording of a common error as the project words every other one: what was
    expected, then what was given ("expected a whole number >= 1, got 0")."""
    value = item.get("input")
    kind, context = item["type"], item.get("ctx") or {}
    given = _shown(value, 60) if isinstance(value, str) else f"{value!r}"[:60]
    if kind in _BOUNDS:
        key, sign = _BOUNDS[kind]
        return f"expected a number {sign} {context[key]}, got {given}"
    if kind == "literal_error":
        options = [option.strip("'") for option in str(context.get("expected", "")).replace(" or ", ", ").split(", ")]
        hint = did_you_mean(value, options, "expected one of") if isinstance(value, str) else ""
        return f"expected one of {context.get('expected')}, got {given}{hint if 'did you mean' in hint else ''}"
    if kind in ("too_long", "too_short"):
        bound = "at most" if kind == "too_long" else "at least"
        limit = context.get("max_length" if kind == "too_long" else "min_length")
        return f"expected {bound} {limit} items, got {context.get('actual_length')}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {given}"
    return item["msg"]


def _known_fields(parent: tuple[str, ...], data: Any, model: type[BaseModel] = Scenario) -> list[str]:
    """Field names the schema allows at the data path ``parent`` (for "did you mean")."""
    node, annotation = data, model
    for part in parent:
        annotation = _step(annotation, part, node)
        node = node[part] if isinstance(node, dict) else node[int(part)]
    found = _model_for(annotation, node)
    return [field.alias or name for name, field in found.model_fields.items()] if found else []


def _step(annotation: Any, part: str, node: Any) -> Any:
    """The annotation one level below ``annotation`` (whose data is ``node``) along ``part``."""
    model = _model_for(annotation, node) if isinstance(node, dict) else None
    if model is not None and part in {f.alias or n for n, f in model.model_fields.items()}:
        fields = {field.alias or name: field for name, field in model.model_fields.items()}
        return fields[part].annotation
    for candidate in _flatten(annotation):
        if get_origin(candidate) is dict:
            return get_args(candidate)[1]
        if get_origin(candidate) in (list, tuple):
            return get_args(candidate)[0]
    return None


def _model_for(annotation: Any, node: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` that fits ``node`` (tagged unions by 'dist')."""
    for candidate in _flatten(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            tag = candidate.model_fields.get("dist")
            if tag is None or not isinstance(node, dict) or node.get("dist") in get_args(tag.annotation):
                return candidate
    return None


def _flatten(annotation: Any) -> list[Any]:
    """Unwrap Annotated and Union layers into the list of plain member types."""
    if annotation is None:
        return []
    if get_origin(annotation) is Annotated:
        return _flatten(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return [member for arg in get_args(annotation) for member in _flatten(arg)]
    return [annotation]
