"""Cross-field checks of a scenario, each problem with its exact field path.

The schema checks each field alone; these check that the parts fit together: shares add up,
routes name real stages, every stage serves someone and every class has a lane on its route.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterator

from .. import holidays as public_holidays
from ..errors import did_you_mean
from .schema import (MEASURED_DAYS_MAX, WEEKDAYS, BoothSchedule, Empirical, GroupRange, LanePool, Scenario, Stage,
                     mean_group_size)
from .rail_stages import rail_problems
from .calibration import calibration_problems  # after .schema, which defines what it builds on

TOLERANCE = 1e-6
ARRIVALS_MAX = 3_000_000    # expected entities of one replication (a year at Khorgos is ~2.6 million)
PERSONS_MAX = 10_000_000    # expected people they carry (one service-time slot each at every stage)


def check_scenario(scenario: Scenario) -> list[tuple[str, str]]:
    """Return (dotted field path, message) for every inconsistency found."""
    return list(_calendar(scenario)) + list(_holidays(scenario)) + list(_clocks(scenario)) + \
        list(_demand(scenario)) + list(_classes(scenario)) + list(_stages(scenario)) + \
        list(_routes(scenario)) + list(_lanes_open(scenario)) + list(_cargo(scenario)) + \
        list(_size(scenario)) + list(_calibration(scenario)) + list(_leaving(scenario)) + \
        list(rail_problems(scenario))


def _calendar(scenario: Scenario) -> Iterator[tuple[str, str]]:
    calendar = scenario.calendar
    if calendar.warmup_days >= calendar.days:
        yield "calendar.warmup_days", f"expected fewer warm-up days than days ({calendar.days}), got {calendar.warmup_days}"
    if calendar.days - calendar.warmup_days > MEASURED_DAYS_MAX:
        yield ("calendar.days", f"expected at most {MEASURED_DAYS_MAX} days after the warm-up, got "
               f"{calendar.days - calendar.warmup_days} (see 'Limits' in docs/scenario.md)")
    if len(set(calendar.closed_weekdays)) == 7:
        yield "calendar.closed_weekdays", "the checkpoint would never open: at least one weekday must be open"
    if calendar.opening_hours != "24h":
        opening, closing = calendar.opening_hours.minutes()
        if opening >= closing:
            yield "calendar.opening_hours", "expected 'open' before 'close' on the same day"


def _holidays(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """Named holidays the ``holidays`` package knows in the simulated years; displacement shares."""
    calendar = scenario.calendar
    years = calendar.years()
    for index, holiday in enumerate(calendar.holidays):
        if not public_holidays.is_known(holiday.country, holiday.name, years):
            names = public_holidays.holiday_names(holiday.country, years)
            yield (f"calendar.holidays.{index}.name",
                   f"no {holiday.country} holiday named {holiday.name!r} in {', '.join(map(str, years))}"
                   f"{did_you_mean(holiday.name, names)} (known: {'; '.join(names)})")
    rule = calendar.displacement
    if rule is not None and rule.before + rule.after > 1 + TOLERANCE:
        yield ("calendar.displacement", f"expected before + after <= 1 (shares of a closed day's demand), "
               f"got {rule.before + rule.after:.6g}")


def _clocks(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """Time zones for both sides or none; stage opening hours that open before they close."""
    crossing = scenario.crossing
    if crossing.time_zones and set(crossing.time_zones) != {"KZ", "CN"}:
        missing = sorted({"KZ", "CN"} - set(crossing.time_zones))
        yield "crossing.time_zones", f"expected the time zones of both sides (KZ and CN), missing {missing}"
    for stage_name, stage in scenario.stages.items():
        if stage.opening_hours != "24h":
            opening, closing = stage.opening_hours.minutes()
            if opening >= closing:
                yield f"stages.{stage_name}.opening_hours", "expected 'open' before 'close' on the same day"


def _demand(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """What ``daily_volume`` counts names real classes and counts someone."""
    demand = scenario.demand
    for index, name in enumerate(demand.vehicle_classes):
        if name not in scenario.classes:
            yield f"demand.vehicle_classes.{index}", f"unknown class {name!r}{did_you_mean(name, list(scenario.classes))}"
    if demand.counts == "vehicles" and not demand.vehicle_classes:
        yield ("demand.vehicle_classes", "daily_volume counts vehicles: expected the list of vehicle classes "
               "(e.g. [car, bus, truck])")
    elif demand.daily_volume > 0 and demand.units_per_entity(scenario.classes) <= 0:
        yield "demand.counts", f"no class with a share is counted as {demand.counts}: daily_volume would mean no arrivals"


def _classes(scenario: Scenario) -> Iterator[tuple[str, str]]:
    total = sum(c.share for c in scenario.classes.values())
    if abs(total - 1.0) > TOLERANCE:
        yield "classes", f"expected the class shares to add up to 1, got {total:.6g}"
    for name, traveler_class in scenario.classes.items():
        if not traveler_class.directions:
            yield f"classes.{name}.directions", "expected at least one direction"
        elif abs(sum(traveler_class.directions.values()) - 1.0) > TOLERANCE:
            yield (f"classes.{name}.directions",
                   f"expected direction shares adding up to 1, got {sum(traveler_class.directions.values()):.6g}")
        size = traveler_class.group_size
        if not isinstance(size, int) and size.min > size.max:
            yield f"classes.{name}.group_size", f"expected min <= max, got {size.min} > {size.max}"
        if isinstance(size, int) and size < 1:
            yield f"classes.{name}.group_size", f"expected a group size >= 1, got {size}"


def _stages(scenario: Scenario) -> Iterator[tuple[str, str]]:
    known = list(scenario.classes)
    for stage_name, stage in scenario.stages.items():
        base = f"stages.{stage_name}"
        served: set[str] = set()
        for pool_name, pool in stage.pools.items():
            if not pool.serves:
                yield f"{base}.pools.{pool_name}.serves", "this lane pool serves no class: list the classes it serves"
            for index, class_name in enumerate(pool.serves):
                if class_name not in scenario.classes:
                    yield f"{base}.pools.{pool_name}.serves.{index}", f"unknown class {class_name!r}{did_you_mean(class_name, known)}"
            served.update(pool.serves)
            if pool.green_channel == "dedicated" and scenario.green_channel.enabled:
                for class_name in pool.serves:
                    others = [p for p in stage.pools.values() if class_name in p.serves and p.green_channel != "dedicated"]
                    if not others:
                        yield (f"{base}.pools.{pool_name}.serves",
                               f"class {class_name!r} is served only by this dedicated green-channel pool: "
                               "travelers not eligible would have no lane")
        served &= set(scenario.classes)
        if not served and stage.pools:
            yield f"{base}.pools", "this stage serves no class"
        for class_name in stage.service_time:
            if class_name not in served:
                yield f"{base}.service_time.{class_name}", f"class {class_name!r} is not served by any pool of this stage"
        for class_name in sorted(served - set(stage.service_time)):
            yield f"{base}.service_time", f"missing a service time for class {class_name!r}, which this stage serves"
        for index, class_name in enumerate(stage.per_person):
            if class_name not in served:
                yield f"{base}.per_person.{index}", f"class {class_name!r} is not served at this stage"
        for class_name in stage.visit_probability:
            if class_name not in served:
                yield f"{base}.visit_probability.{class_name}", f"class {class_name!r} is not served at this stage"
        for check_name, check in stage.extra_checks.items():
            for class_name in check.probability:
                if class_name not in served:
                    yield (f"{base}.extra_checks.{check_name}.probability.{class_name}",
                           f"class {class_name!r} is not served at this stage")
        distributions = [(f"{base}.service_time.{c}", d) for c, d in stage.service_time.items()]
        distributions += [(f"{base}.extra_checks.{n}.service_time", c.service_time) for n, c in stage.extra_checks.items()]
        for path, distribution in distributions:
            if isinstance(distribution, Empirical) and distribution.weights is not None:
                if len(distribution.weights) != len(distribution.values) or sum(distribution.weights) <= 0:
                    yield f"{path}.weights", "expected one non-negative weight per value, not all zero"


def _routes(scenario: Scenario) -> Iterator[tuple[str, str]]:
    known = list(scenario.stages)
    on_route: set[str] = set()
    for direction, stage_names in scenario.routes.items():
        for index, stage_name in enumerate(stage_names):
            if stage_name not in scenario.stages:
                yield f"routes.{direction}.{index}", f"unknown stage {stage_name!r}{did_you_mean(stage_name, known)}"
        on_route.update(stage_names)
    for stage_name in scenario.stages:
        if stage_name not in on_route:
            yield f"stages.{stage_name}", "this stage is on no route"
    for class_name, direction in travelled_routes(scenario):
        stages = [scenario.stages[s] for s in scenario.routes.get(direction, []) if s in scenario.stages]
        if not any(class_name in pool.serves for stage in stages for pool in stage.pools.values()):
            yield (f"classes.{class_name}",
                   f"class {class_name!r} has no lane on the {direction} route: add it to a pool's 'serves'")


def _leaving(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """Impatience that fits the crossing: a stage that balks (a queue cap that balks, or balking
    rules) must be the first stage of every route that visits it, or say ``allow_leave: true``; a
    blocking stage needs a cap; a board without a threshold needs patient classes; jockeying needs
    pools to jockey between; ``patience_from`` needs a patience."""
    reported: set[str] = set()
    for class_name, direction in travelled_routes(scenario):
        route = [s for s in scenario.routes.get(direction, []) if s in scenario.stages
                 and any(class_name in pool.serves for pool in scenario.stages[s].pools.values())]
        for stage_name in route[1:]:
            stage = scenario.stages[stage_name]
            if stage.allow_leave or stage_name == route[0]:
                continue
            for field, used in (("queue_capacity", stage.queue_capacity is not None and stage.when_full == "balk"),
                                ("balking", stage.balking is not None)):
                if used and (stage_name, field) not in reported:
                    reported.add((stage_name, field))
                    hint = "remove the cap, set 'when_full: block', or set 'allow_leave: true'" \
                        if field == "queue_capacity" else "remove it, or set 'allow_leave: true'"
                    yield (f"stages.{stage_name}.{field}",
                           f"class {class_name!r} reaches this stage after {route[0]!r} on the {direction} route, "
                           f"where nobody may turn back: {hint} (see docs/scenario.md)")
    for stage_name, stage in scenario.stages.items():
        base = f"stages.{stage_name}"
        if stage.when_full == "block" and stage.queue_capacity is None:
            yield f"{base}.when_full", "'block' needs a queue_capacity: the waiting space that can be full"
        if stage.jockeying and len(stage.pools) < 2:
            yield f"{base}.jockeying", "expected at least two pools to jockey between"
        if stage.balking is not None:
            board = stage.balking.by_announced_wait
            if not stage.balking.by_queue and board is None:
                yield f"{base}.balking", "expected 'by_queue' points or 'by_announced_wait'"
            if board is not None and board.threshold is None:
                impatient = [c for c in stage.service_time if c in scenario.classes and not scenario.classes[c].has_patience]
                if impatient:
                    yield (f"{base}.balking.by_announced_wait.threshold",
                           f"expected a threshold, or a patience for every class served here (not {impatient})")
    for class_name, traveler_class in scenario.classes.items():
        if traveler_class.patience_from != "stage" and not traveler_class.has_patience:
            yield f"classes.{class_name}.patience_from", "expected a 'patience' for the class to count from the crossing"


def travelled_routes(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """(class, direction) for every class with a share of demand in every direction it travels."""
    for class_name, traveler_class in scenario.classes.items():
        if traveler_class.share == 0:
            continue
        for direction, share in traveler_class.directions.items():
            if share != 0:
                yield class_name, direction


def class_stage_visits(scenario: Scenario) -> Iterator[tuple[str, str, str]]:
    """(class, direction, stage) for every stage a class with demand visits on a route it travels."""
    if scenario.demand.daily_volume == 0:
        return
    for class_name, direction in travelled_routes(scenario):
        for stage_name in dict.fromkeys(scenario.routes.get(direction, [])):
            stage = scenario.stages.get(stage_name)
            if stage is None or stage.visit_probability.get(class_name, 1.0) == 0:
                continue
            if any(class_name in pool.serves for pool in stage.pools.values()):
                yield class_name, direction, stage_name


def lanes_for(scenario: Scenario, stage: Stage, class_name: str) -> list[str]:
    """The pools of ``stage`` that travelers of the class need open: its ordinary pools, or, when
    every traveler of the class is green-channel eligible, its dedicated pools as well (eligible
    travelers use the ordinary pools while the dedicated ones are closed)."""
    green_on = scenario.green_channel.enabled
    serving = {name: pool for name, pool in stage.pools.items() if class_name in pool.serves}
    ordinary = [name for name, pool in serving.items() if not (green_on and pool.green_channel == "dedicated")]
    if scenario.classes[class_name].green_channel_share >= 1.0:
        return list(serving)
    return ordinary


def can_ever_open(pool: LanePool) -> bool:
    """Whether some part of the pool's booth schedule has a booth open (whatever the calendar)."""
    if not isinstance(pool.booths, BoothSchedule):
        return pool.booths > 0
    return pool.booths.default > 0 or any(rule.booths > 0 for rule in pool.booths.rules)


def _lanes_open(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """A class with demand needs, at each stage it visits, a pool whose schedule opens a booth."""
    reported: set[tuple[str, str]] = set()
    for class_name, direction, stage_name in class_stage_visits(scenario):
        stage = scenario.stages[stage_name]
        lanes = lanes_for(scenario, stage, class_name)
        if (class_name, stage_name) in reported or not lanes:     # no ordinary pool: reported by _stages
            continue
        if not any(can_ever_open(stage.pools[name]) for name in lanes):
            reported.add((class_name, stage_name))
            yield (f"stages.{stage_name}.pools",
                   f"class {class_name!r} ({direction}) can never be served at stage {stage_name!r}: every pool "
                   f"serving it ({', '.join(lanes)}) has 0 booths in its whole schedule")


def expected_arrivals(scenario: Scenario) -> tuple[float, float]:
    """Expected (entities, people) of one replication: demand over the calendar's open days,
    plus the initial cargo backlog."""
    demand, calendar = scenario.demand, scenario.calendar
    closed_dates, closed_weekdays = set(calendar.closed_dates), {WEEKDAYS.index(d) for d in calendar.closed_weekdays}
    daily_total = 0.0
    for day in range(calendar.days):
        date = calendar.start_date + dt.timedelta(days=day)
        if date in closed_dates or date.weekday() in closed_weekdays:
            continue
        factor = demand.weekday_factors[date.weekday()]
        for season in demand.seasonal_factors:
            if season.covers_date(date):
                factor *= season.factor
        listed = demand.daily_volumes.get(date)
        daily_total += (demand.entities_per_day(scenario.classes) * factor if listed is None
                        else demand.to_entities(listed, scenario.classes))
    entities = persons = 0.0
    for traveler_class in scenario.classes.values():
        mean_size = mean_group_size(traveler_class.group_size)
        entities += daily_total * traveler_class.share
        persons += daily_total * traveler_class.share * mean_size
    cargo = [c for c in scenario.classes.values() if c.cargo]
    if cargo and scenario.cargo is not None:
        backlog = sum(scenario.cargo.initial_backlog.values())
        size = cargo[0].group_size
        entities += backlog
        persons += backlog * (size.max if isinstance(size, GroupRange) else size)
    return entities, persons


def _size(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """One replication must fit in memory and a few minutes (see 'Limits' in docs/scenario.md)."""
    entities, persons = expected_arrivals(scenario)
    if entities > ARRIVALS_MAX:
        yield ("demand.daily_volume", f"expected at most {ARRIVALS_MAX:,} arrivals per replication, but "
               f"daily_volume x factors x {scenario.calendar.days} days gives {entities:,.0f}: shorten the calendar "
               "or lower the volume (see 'Limits' in docs/scenario.md)")
    elif persons > PERSONS_MAX:
        yield ("classes", f"expected at most {PERSONS_MAX:,} people per replication, but the arrivals carry "
               f"{persons:,.0f} (group sizes): shorten the calendar or lower the volume")


def _cargo(scenario: Scenario) -> Iterator[tuple[str, str]]:
    cargo_classes = [name for name, c in scenario.classes.items() if c.cargo]
    if cargo_classes and scenario.cargo is None:
        yield "cargo", f"classes {cargo_classes} are marked cargo: expected a 'cargo' block with daily release quotas"
        return
    if scenario.cargo is None:
        return
    start, end = scenario.cargo.release_hours
    if not 0 <= start < end <= 24:
        yield "cargo.release_hours", f"expected [start, end] with 0 <= start < end <= 24, got {[start, end]}"
    for class_name in cargo_classes:
        for direction, share in scenario.classes[class_name].directions.items():
            if share > 0 and direction not in scenario.cargo.daily_release_quota:
                yield "cargo.daily_release_quota", f"missing the quota for {direction} (class {class_name!r} travels it)"
    for direction in scenario.cargo.accepted_per_day:
        if direction not in scenario.cargo.daily_release_quota:
            yield (f"cargo.accepted_per_day.{direction}",
                   f"no daily_release_quota for {direction}: the acceptance limit would be ignored")
    first = scenario.classes[cargo_classes[0]] if cargo_classes else None
    for direction, count in scenario.cargo.initial_backlog.items():
        if count and (first is None or first.directions.get(direction, 0) == 0):
            yield (f"cargo.initial_backlog.{direction}",
                   f"the backlog is made of the first cargo class ({cargo_classes[0] if cargo_classes else 'none'}), "
                   f"which does not travel {direction}")
    if scenario.calendar.opening_hours != "24h":
        opening, closing = scenario.calendar.opening_hours.minutes()
        if 60 * start < opening or 60 * end > closing:
            yield ("cargo.release_hours", f"releases from {start:g} h to {end:g} h fall outside the opening hours "
                   f"({scenario.calendar.opening_hours.open}-{scenario.calendar.opening_hours.close}): "
                   "released trucks would wait at closed booths")


def _calibration(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """The calibration block on its own; what it says about the scenario is checked by `calibrate`."""
    yield from calibration_problems(scenario)
