"""The ``rail`` block as ordinary classes, stages and routes (the rail model, docs/rail.md).

A scenario with a ``rail`` block is run by the same engine as the road: :func:`expand` adds

- a class ``train_<type>`` per train type (share 0: its entities come from the timetable,
  :mod:`sim.timetable`, not from the road demand; its group size is the train's count of
  *units*, containers or wagons, set per train by the arrivals);
- per border station, a stage ``<station>_documents`` (documents, border guards, customs: one
  service per train, one booth per arrival/departure track) and a stage per gauge-change method,
  ``<station>_<method>``: ``transshipment`` (pool ``cranes``, one service per container: the
  containers are the train's tokens, served per person), ``bogie_exchange`` / ``wagon_reload``
  (pool ``lines``, one service per wagon), ``locomotive_change`` (pool ``locomotive``, one
  service per train, one booth per track);
- these stages at the end of each direction's route, stations in the order a train meets them
  (the exit side's first). Road classes are not served there, trains nowhere else, so the road
  routes are unchanged.

What the stages cannot say (a train holds one track of its station from entering its first
stage to leaving its last, waiting outside while all are taken; the daily interchange limit
after the first station of the route; 24 h operation whatever the road post's hours) is read
from the ``rail`` block by :mod:`sim.plan` (``RailLayout``) and :mod:`sim.yard`.

:func:`expand` is idempotent: a scenario already expanded (e.g. dumped and loaded again) gives
the same classes, stages and routes.
"""
from __future__ import annotations

from typing import Iterator

from .rail import LocomotiveChange, PerWagon, Rail, Station, Transshipment
from .schema import DIRECTIONS, LanePool, Scenario, Stage, TravelerClass

TRAIN_CLASS_PREFIX = "train_"
EXIT_SIDE = {"KZ_to_CN": "KZ", "CN_to_KZ": "CN"}


def train_class(train_type: str) -> str:
    """The class name of a train type's entities."""
    return f"{TRAIN_CLASS_PREFIX}{train_type}"


def stations_on_route(rail: Rail, direction: str) -> list[str]:
    """The stations a train of ``direction`` passes, in order: the exit side's, then the entry side's
    (file order within a side)."""
    serving = [name for name, station in rail.stations.items() if direction in station.directions]
    return sorted(serving, key=lambda name: rail.stations[name].side != EXIT_SIDE[direction])


def method_stage(station_name: str, station: Station, index: int) -> str:
    """The stage name of a station's ``index``-th gauge-change method (an index suffix if the
    station lists the same method twice)."""
    kind = station.gauge_change[index].method
    same = [i for i, m in enumerate(station.gauge_change) if m.method == kind]
    return f"{station_name}_{kind}" if len(same) == 1 else f"{station_name}_{kind}_{same.index(index) + 1}"


def documents_stage(station_name: str) -> str:
    return f"{station_name}_documents"


def chosen_method(station: Station, direction: str, train_type: str) -> int | None:
    """The index of the first gauge-change method of ``station`` that applies, or None."""
    for index, method in enumerate(station.gauge_change):
        if method.applies(direction, train_type):
            return index
    return None


def unit_of(rail: Rail, train_type: str) -> str:
    """What a train type's tokens are at the unit-level stages: ``containers`` if a station
    transships it, else ``wagons`` (the count :mod:`sim.timetable` draws)."""
    for station in rail.stations.values():
        for direction in station.directions:
            index = chosen_method(station, direction, train_type)
            if index is not None and isinstance(station.gauge_change[index], Transshipment):
                return "containers"
    return "wagons"


def stage_names(rail: Rail) -> list[str]:
    """Every stage :func:`expand` adds, station by station."""
    names = []
    for station_name, station in rail.stations.items():
        names.append(documents_stage(station_name))
        names.extend(method_stage(station_name, station, i) for i in range(len(station.gauge_change)))
    return names


def station_of_stage(rail: Rail) -> dict[str, str]:
    """Stage name -> the station it belongs to."""
    owner = {}
    for station_name, station in rail.stations.items():
        owner[documents_stage(station_name)] = station_name
        for i in range(len(station.gauge_change)):
            owner[method_stage(station_name, station, i)] = station_name
    return owner


def _served(rail: Rail, station: Station, index: int) -> list[str]:
    """Train types for which the ``index``-th method is the one chosen in some direction."""
    return [t for t in rail.train_types
            if any(chosen_method(station, d, t) == index for d in station.directions)]


def _method_stage(rail: Rail, station_name: str, station: Station, index: int) -> Stage:
    method = station.gauge_change[index]
    types = _served(rail, station, index)
    classes = [train_class(t) for t in types]
    if isinstance(method, Transshipment):
        pool, booths, service, per_unit = "cranes", method.cranes, method.move_time, True
    elif isinstance(method, PerWagon):
        pool, booths, service, per_unit = "lines", method.lines, method.per_wagon, True
    elif isinstance(method, LocomotiveChange):
        pool, booths, service, per_unit = "locomotive", station.tracks, method.time, False
    else:                                   # pragma: no cover - the schema admits no other method
        raise TypeError(f"unknown gauge-change method {method!r}")
    return Stage(side=station.side, per_person=classes if per_unit else [],
                 service_time={c: service for c in classes},
                 pools={pool: LanePool(serves=classes, booths=booths)})


def expand(scenario: Scenario) -> Scenario:
    """The scenario with its ``rail`` block's classes, stages and routes added (unchanged without one)."""
    rail = scenario.rail
    if rail is None or not rail.stations:
        return scenario
    added_stages = set(stage_names(rail))
    all_trains = [train_class(t) for t in rail.train_types]
    classes = {name: c for name, c in scenario.classes.items() if name not in all_trains}
    for train_type, name in zip(rail.train_types, all_trains):
        directions = sorted({line.direction for line in rail.lines() if line.train_type == train_type}) or list(DIRECTIONS)
        classes[name] = TravelerClass(share=0.0, directions={d: 1.0 / len(directions) for d in directions})
    stages = {name: s for name, s in scenario.stages.items() if name not in added_stages}
    for station_name, station in rail.stations.items():
        stages[documents_stage(station_name)] = Stage(
            side=station.side, service_time={c: station.documents for c in all_trains},
            pools={"tracks": LanePool(serves=all_trains, booths=station.tracks)})
        for index in range(len(station.gauge_change)):
            stages[method_stage(station_name, station, index)] = _method_stage(rail, station_name, station, index)
    routes = {}
    for direction in DIRECTIONS:
        route = [s for s in scenario.routes.get(direction, []) if s not in added_stages]
        for station_name in stations_on_route(rail, direction):
            station = rail.stations[station_name]
            route.append(documents_stage(station_name))
            chosen = sorted({chosen_method(station, direction, t) for t in rail.train_types} - {None})
            route.extend(method_stage(station_name, station, i) for i in chosen)
        if route:
            routes[direction] = route
    return scenario.model_copy(update={"classes": classes, "stages": stages, "routes": routes})


def rail_problems(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """(field path, message) for a rail block that does not fit the rest of the scenario."""
    rail = scenario.rail
    if rail is None:
        return
    added = set(stage_names(rail))
    for name in rail.train_types:
        if train_class(name) in scenario.classes and scenario.classes[train_class(name)].share > 0:
            yield f"rail.train_types.{name}", (f"class {train_class(name)!r} is already a road class with a share: "
                                               "rename the train type or the class")
    clashes = sorted(added & set(scenario.stages))
    for name in clashes:
        if any(name in route for route in scenario.routes.values()) and scenario.stages[name].service_time.keys() - {
                train_class(t) for t in rail.train_types}:
            yield f"stages.{name}", "is also a stage of the rail block's stations: rename the stage or the station"
    for station_name, station in rail.stations.items():
        for direction in station.directions:
            route_stages = {chosen_method(station, direction, t) for t in rail.train_types} - {None}
            for train_type in rail.train_types:
                mine = chosen_method(station, direction, train_type)
                for other in route_stages - {mine}:
                    if train_type in _served(rail, station, other):
                        yield (f"rail.stations.{station_name}.gauge_change",
                               f"method {other + 1} applies to {train_type} trains in one direction but not in "
                               f"{direction}, where another method does: give each method its own train types "
                               "(one stage per method serves the same trains in every direction)")
        for index, method in enumerate(station.gauge_change):
            if isinstance(method, Transshipment):
                for train_type in _served(rail, station, index):
                    if rail.train_types[train_type].containers is None:
                        yield (f"rail.stations.{station_name}.gauge_change",
                               f"transshipment applies to {train_type} trains, which carry no containers "
                               f"(rail.train_types.{train_type}.containers)")
            elif isinstance(method, PerWagon):
                for train_type in _served(rail, station, index):
                    if unit_of(rail, train_type) == "containers":
                        yield (f"rail.stations.{station_name}.gauge_change",
                               f"{train_type} trains are transshipped (per container) at one station and changed "
                               "per wagon at another: a train type has one unit; split it into two types")
    interchange = rail.interchange
    if interchange is not None:
        for direction in interchange.trains_per_day:
            if not stations_on_route(rail, direction):
                yield f"rail.interchange.trains_per_day.{direction}", "no station serves this direction"
    if not rail.stations:
        yield "rail.stations", "expected at least one border station (the trains have nowhere to go)"
