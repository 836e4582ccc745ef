"""Reading scenario files: YAML with line numbers, ``extends``, and clear error messages.

``load_scenario`` turns a file (or a dict) into a validated, immutable :class:`Scenario`. Every
problem becomes a :class:`~sim.errors.Problem` naming the file, the line and the field path; a
misspelt key gets a "did you mean" hint.
"""
from __future__ import annotations

import copy
import difflib
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Mapping, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import Problem, ScenarioError
from .checks import check_scenario
from .schema import Scenario

LineMap = dict[tuple[str, ...], tuple[str, int]]  # field path -> (file, line)


def read_yaml(path: Path) -> tuple[Any, LineMap]:
    """Parse a YAML file; return the data and where each field path was written."""
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(Problem(label, "", "file not found")) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as error:
        raise ScenarioError(Problem(label, "", f"cannot read the file ({error.__class__.__name__})")) from None
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise ScenarioError(Problem(label, "", f"malformed YAML: {problem}", line)) from None
    lines: LineMap = {}
    _index_lines(root, (), label, lines)
    return data, lines


def _index_lines(node: yaml.Node | None, path: tuple[str, ...], label: str, lines: LineMap) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = path + (str(key_node.value),)
            lines[child] = (label, key_node.start_mark.line + 1)
            _index_lines(value_node, child, label, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = path + (str(index),)
            lines[child] = (label, item.start_mark.line + 1)
            _index_lines(item, child, label, lines)


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
                    seen: tuple[Path, ...] = ()) -> tuple[Any, LineMap]:
    """Follow ``extends: other.yaml`` chains and merge them, child over parent."""
    if not isinstance(data, dict):
        raise ScenarioError(Problem(label, "", "expected a mapping of scenario fields at the top level", 1))
    if "extends" not in data:
        return data, lines
    parent_name = data["extends"]
    if not isinstance(parent_name, str):
        raise ScenarioError(Problem(label, "extends", "expected a file name", lines.get(("extends",), (label, None))[1]))
    parent_path = (base_dir / parent_name).resolve()
    if parent_path in seen:
        raise ScenarioError(Problem(label, "extends", f"circular extends through {parent_path.name}",
                                    lines.get(("extends",), (label, None))[1]))
    if not parent_path.exists():
        raise ScenarioError(Problem(label, "extends", f"base scenario {parent_name!r} not found "
                                    f"(looked in {base_dir})", lines.get(("extends",), (label, None))[1]))
    parent, parent_lines = read_yaml(parent_path)
    parent, parent_lines = resolve_extends(parent, parent_lines, str(parent_path), parent_path.parent,
                                           seen + (parent_path,))
    child = {key: value for key, value in data.items() if key != "extends"}
    return merge(parent, child), {**parent_lines, **lines}


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
    if isinstance(source, Mapping):
        label, base_dir = "<scenario>", Path.cwd()
        data, lines = resolve_extends(dict(source), {}, label, base_dir)
    else:
        path = Path(source)
        label, base_dir = str(path), path.parent
        data, lines = read_yaml(path)
        data, lines = resolve_extends(data, lines, label, base_dir, (path.resolve(),))
    for dotted, value in (overrides or {}).items():
        data = set_dotted(data, dotted, value)
    return validate(data, lines, label)


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


def validate(data: dict, lines: LineMap, label: str) -> Scenario:
    """Validate merged data against the schema, then the cross-field checks."""
    scenario = validate_model(Scenario, data, lines, label)
    problems = []
    for path, message in check_scenario(scenario):
        file, dotted, line = _where(tuple(path.split(".")), lines, label)
        problems.append(Problem(file, dotted, message, line))
    if problems:
        raise ScenarioError(problems)
    return scenario


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
        guess = difflib.get_close_matches(path[-1], known, n=1)
        hint = f"; did you mean {guess[0]!r}?" if guess else (f"; expected one of: {', '.join(known)}" if known else "")
        message = f"unknown field {path[-1]!r}{hint}"
    elif item["type"] == "missing":
        message = f"missing required field {str(item['loc'][-1])!r}"
        if not dotted.endswith(str(item["loc"][-1])):
            dotted = f"{dotted}.{item['loc'][-1]}" if dotted else str(item["loc"][-1])
    elif message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return Problem(file, dotted, message, line)


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
