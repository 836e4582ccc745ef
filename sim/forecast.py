"""Travel-wave forecasting: daily counts of a history -> daily volumes with P50/P90 for a scenario.

``checkpoint-sim forecast HISTORY.csv`` reads daily counts (columns ``date``, ``count`` and
optionally ``class``: the classes are summed per date), and fits one model with statsmodels:

    log(count + 1) = level + trend * years + weekday effects (6 dummies)
                     + yearly seasonality (``fourier`` sine/cosine pairs of period 365.25 days)
                     + a public-holiday dummy per country of ``countries`` (``holidays`` package)
                     + AR(1) error                                   (SARIMAX(1, 0, 0) with exog)

The weekly and yearly patterns are multiplicative on the counts (additive on the log scale), the
AR(1) error carries the runs of busy or quiet days that seasonality does not explain, and the
state-space form gives the forecast's standard error on the log scale, so that
``P50 = exp(mean) - 1`` and ``P90 = exp(mean + 1.2816 * se) - 1`` (P10 likewise). Parameter
uncertainty is not in the interval; the held-back check says how well it covers.

Fit quality: the model is first fitted without the last ``holdout`` days and forecasts them
(MAPE of the P50, share of days at or below the P90, share inside [P10, P90]); then it is
fitted on the whole history and forecasts the requested dates. Missing dates in the history are
missing observations (the state-space filter skips them), not zeros.

:func:`demand_overlay` turns one quantile of the forecast into the YAML a scenario ``extends``:
``demand.daily_volumes`` (date -> volume, replacing ``daily_volume`` x weekday and seasonal
factors on those dates) and the calendar of the forecast window. The files are written by
:func:`sim.publish.publish_forecast`.
"""
from __future__ import annotations

import datetime as dt
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import holidays as holiday_calendars
import numpy as np
import pandas as pd
from statsmodels.tsa.statespace.sarimax import SARIMAX

from .errors import Problem, ScenarioError
from .fitting import extending_yaml
from .scenario import Scenario
from .scenario.schema import DAYS_MAX
from .version import __version__

Z90 = 1.2815515655446004          # standard normal quantile of 0.9
DEFAULT_HOLDOUT = 28
DEFAULT_HORIZON = 60
DEFAULT_FOURIER = 3
MIN_DAYS = 56                     # fitted days at least (eight weeks) besides the held-back ones
COUNTS = ("entities", "persons")
TABLE_COLUMNS = ["date", "part", "observed", "p10", "p50", "p90"]


# --------------------------------------------------------------------------------------------
# reading a history
# --------------------------------------------------------------------------------------------
def read_history(path: str | os.PathLike) -> tuple[pd.Series, dict[str, float]]:
    """The daily counts of ``path`` (a ``pd.Series`` indexed by date, every day from the first to
    the last, NaN where the file has no row) and the share of each class (empty without a
    ``class`` column). Lines starting with ``#`` are comments. Problems are ``ScenarioError`` s
    naming the file, the column and the row."""
    label = str(path)
    try:
        table = pd.read_csv(path, comment="#", dtype=str, skip_blank_lines=True)
    except FileNotFoundError:
        raise ScenarioError(Problem(label, "", "no such file")) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, IsADirectoryError) as error:
        raise ScenarioError(Problem(label, "", f"not a readable CSV file ({str(error).strip()})")) from None
    table.columns = [str(column).strip().lower() for column in table.columns]
    missing = [column for column in ("date", "count") if column not in table.columns]
    if missing:
        raise ScenarioError(Problem(label, missing[0], f"missing column {missing[0]!r}: expected columns date, "
                                    f"count and optionally class; found {', '.join(table.columns) or 'none'}"))
    problems = []
    dates = pd.to_datetime(table["date"].str.strip(), format="%Y-%m-%d", errors="coerce")
    counts = pd.to_numeric(table["count"].str.strip(), errors="coerce")
    for row in np.flatnonzero(dates.isna().to_numpy())[:5]:
        problems.append(Problem(label, "date",
                                f"row {row + 2}: expected a date YYYY-MM-DD, got {table['date'][row]!r}"))
    bad = counts.isna() | (counts < 0) | ~np.isfinite(counts.fillna(0))
    for row in np.flatnonzero(bad.to_numpy())[:5]:
        problems.append(Problem(label, "count", f"row {row + 2}: expected a count >= 0, got {table['count'][row]!r}"))
    if problems:
        raise ScenarioError(problems)
    keys = ["date"] + (["class"] if "class" in table.columns else [])
    frame = pd.DataFrame({"date": dates, "count": counts})
    if "class" in table.columns:
        frame["class"] = table["class"].fillna("").str.strip()
    duplicated = frame.duplicated(keys, keep="first")
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise ScenarioError(Problem(label, "date", f"row {row + 2}: {table['date'][row]} appears twice"
                                    + (" for the same class" if "class" in keys else "")))
    daily = frame.groupby("date")["count"].sum().sort_index()
    daily = daily.reindex(pd.date_range(daily.index[0], daily.index[-1], freq="D")) if len(daily) else daily
    shares: dict[str, float] = {}
    if "class" in frame.columns:
        recent = frame[frame["date"] > frame["date"].max() - pd.Timedelta(days=365)]
        totals = recent.groupby("class")["count"].sum()
        if totals.sum() > 0:
            shares = {str(name): float(value / totals.sum()) for name, value in totals.items()}
    return daily.astype(float).rename("count"), shares


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------
def holiday_dates(country: str, first: int, last: int) -> pd.DatetimeIndex:
    """The public holidays of ``country`` (ISO code, e.g. CN, KZ) in the years ``first..last``,
    from the ``holidays`` package (substituted days off included)."""
    try:
        calendar = holiday_calendars.country_holidays(country, years=range(first, last + 1))
    except NotImplementedError:
        raise ScenarioError(Problem("--holidays", "", f"no holiday calendar for country {country!r}: expected an "
                                    "ISO code such as CN or KZ")) from None
    return pd.DatetimeIndex(sorted(pd.Timestamp(date) for date in calendar))


def design(dates: pd.DatetimeIndex, origin: pd.Timestamp, fourier: int, trend: bool,
           countries: tuple[str, ...] = ()) -> pd.DataFrame:
    """The regressors of ``dates``: constant, trend (years since ``origin``), weekday dummies
    (Monday is the reference), ``fourier`` yearly sine/cosine pairs and, per country, a dummy
    for its public holidays."""
    years = np.asarray((dates - origin).days, dtype=float) / 365.25
    columns: dict[str, np.ndarray] = {"const": np.ones(len(dates))}
    if trend:
        columns["trend"] = years
    for day, name in enumerate(("tue", "wed", "thu", "fri", "sat", "sun"), start=1):
        columns[name] = (dates.day_of_week == day).astype(float)
    for k in range(1, fourier + 1):
        columns[f"sin{k}"] = np.sin(2 * np.pi * k * years)
        columns[f"cos{k}"] = np.cos(2 * np.pi * k * years)
    for country in countries:
        columns[f"holiday_{country}"] = dates.isin(holiday_dates(country, dates[0].year, dates[-1].year)).astype(float)
    return pd.DataFrame(columns, index=dates)


@dataclass
class FittedModel:
    """A fitted SARIMAX model of log counts and how to build its regressors for new dates."""

    results: Any
    origin: pd.Timestamp
    fourier: int
    trend: bool
    last: pd.Timestamp
    countries: tuple[str, ...] = ()

    def predict(self, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """P10/P50/P90 counts on ``dates`` (consecutive days right after the fitted history)."""
        steps = (dates[-1] - self.last).days
        if steps < 1 or (dates[0] - self.last).days < 1:
            raise ValueError("forecast dates must come after the fitted history")
        ahead = pd.date_range(self.last + pd.Timedelta(days=1), dates[-1], freq="D")
        forecast = self.results.get_forecast(steps, exog=design(ahead, self.origin, self.fourier, self.trend,
                                                                self.countries))
        mean = np.asarray(forecast.predicted_mean)
        se = np.asarray(forecast.se_mean)
        table = pd.DataFrame({"p10": np.expm1(mean - Z90 * se), "p50": np.expm1(mean),
                              "p90": np.expm1(mean + Z90 * se)}, index=ahead).clip(lower=0.0)
        return table.loc[dates]


def fit_model(history: pd.Series, fourier: int = DEFAULT_FOURIER, trend: bool = True,
              countries: tuple[str, ...] = ()) -> FittedModel:
    """Fit the model to ``history`` (daily counts, NaN for missing days), with a holiday dummy
    for each of ``countries`` (each needs a holiday on a day with a count)."""
    origin = history.index[0]
    exog = design(history.index, origin, fourier, trend, countries)
    for country in countries:
        if not (exog[f"holiday_{country}"].to_numpy() * history.notna().to_numpy()).any():
            raise ScenarioError(Problem("--holidays", "", f"the history has no {country} holiday with a count: "
                                        "its effect cannot be estimated"))
    endog = np.log1p(history.to_numpy())
    # the regression coefficients are states of the Kalman filter (mle_regression=False): the
    # likelihood is maximised over the AR coefficient and the variance only, and the forecast's
    # standard error includes the uncertainty of the coefficients
    model = SARIMAX(endog, exog=exog.to_numpy(), order=(1, 0, 0), trend="n", mle_regression=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # convergence chatter; the held-back check judges the fit
        results = model.fit(disp=False, maxiter=200)
    return FittedModel(results, origin, fourier, trend, history.index[-1], tuple(countries))


# --------------------------------------------------------------------------------------------
# the forecast: held-back check, then the full fit
# --------------------------------------------------------------------------------------------
@dataclass
class Forecast:
    """A fitted history, its held-back check, and P10/P50/P90 daily counts on the forecast dates."""

    source: Path | None
    history: pd.Series                   # daily counts, NaN for missing days
    holdout: pd.DataFrame                # held-back days: observed, p10, p50, p90
    forecast: pd.DataFrame               # forecast dates: p10, p50, p90
    quality: dict[str, float]            # mape_p50, share_below_p90, share_in_p10_p90, days
    weekday_factors: list[float]         # fitted weekly profile (Monday first, mean 1)
    class_shares: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def quality_text(self) -> str:
        return format_quality(self)

    def summary_text(self) -> str:
        return format_summary(self)

    def table(self) -> pd.DataFrame:
        """Tidy: every history day (part ``history``, or ``holdout`` for the held-back days, with
        the held-back forecast) and every forecast date (part ``forecast``)."""
        history = pd.DataFrame({"observed": self.history})
        history["part"] = "history"
        history.loc[self.holdout.index, "part"] = "holdout"
        for column in ("p10", "p50", "p90"):
            history[column] = self.holdout[column].reindex(history.index)
        ahead = self.forecast.copy()
        ahead["observed"] = np.nan
        ahead["part"] = "forecast"
        table = pd.concat([history, ahead])
        table.index.name = "date"
        table = table.reset_index()
        table["date"] = table["date"].dt.date
        return table[TABLE_COLUMNS]


def quality(holdout: pd.DataFrame) -> dict[str, float]:
    """MAPE of the P50 (days with a positive count) and the shares of observed counts at or below
    the P90 and inside [P10, P90], over the held-back days with an observation."""
    seen = holdout.dropna(subset=["observed"])
    positive = seen[seen["observed"] > 0]
    mape = float(np.mean(np.abs(positive["p50"] - positive["observed"]) / positive["observed"])) if len(positive) \
        else math.nan
    return {"days": int(len(seen)), "mape_p50": mape,
            "share_below_p90": float(np.mean(seen["observed"] <= seen["p90"])) if len(seen) else math.nan,
            "share_in_p10_p90": float(np.mean((seen["observed"] >= seen["p10"]) & (seen["observed"] <= seen["p90"])))
            if len(seen) else math.nan}


def forecast_history(history: pd.Series, start: dt.date, end: dt.date, holdout: int = DEFAULT_HOLDOUT,
                     fourier: int = DEFAULT_FOURIER, trend: bool = True, source: Path | None = None,
                     class_shares: dict[str, float] | None = None, countries: tuple[str, ...] = ()) -> Forecast:
    """Check the model on the last ``holdout`` days of ``history``, refit it on all of it and
    forecast every day from the day after the history to ``end`` (``start`` on: kept)."""
    label = str(source) if source else "<history>"
    observed = int(history.notna().sum())
    if observed < MIN_DAYS + holdout:
        raise ScenarioError(Problem(label, "count", f"expected at least {MIN_DAYS + holdout} days with a count "
                                    f"({MIN_DAYS} to fit and {holdout} held back), got {observed}"))
    if fourier and observed < 365 + holdout:
        warnings.warn(f"{label}: less than a year of history: the yearly seasonality is extrapolated", stacklevel=2)
    last = history.index[-1]
    if pd.Timestamp(end) <= last:
        raise ScenarioError(Problem("--to", "", f"expected a date after the history's last day ({last.date()}), "
                                    f"got {end}"))
    fitted_part, held = history.iloc[:-holdout], history.iloc[-holdout:] if holdout else history.iloc[:0]
    check = pd.DataFrame(columns=["observed", "p10", "p50", "p90"], dtype=float)
    if holdout:
        check = fit_model(fitted_part, fourier, trend, countries).predict(held.index)
        check.insert(0, "observed", held)
    model = fit_model(history, fourier, trend, countries)
    dates = pd.date_range(max(pd.Timestamp(start), last + pd.Timedelta(days=1)), pd.Timestamp(end), freq="D")
    ahead = model.predict(dates)
    weekday = weekday_profile(model)
    holiday_text = f", holiday dummies ({', '.join(countries)})" if countries else ""
    info = {"model": "SARIMAX(1,0,0) on log(count + 1) with weekday dummies, "
                     f"{fourier} yearly Fourier pair(s){holiday_text}{' and a linear trend' if trend else ''} "
                     "(statsmodels)",
            "holiday_countries": list(countries),
            "holiday_factors": {country: holiday_factor(model, country) for country in countries},
            "history_first": str(history.index[0].date()), "history_last": str(last.date()),
            "history_days": observed, "holdout_days": holdout, "fourier": fourier, "trend": trend,
            "ar1": float(model.results.params[0]), "sigma_log": float(math.sqrt(model.results.params[1]))}
    return Forecast(source, history, check, ahead, quality(check) if holdout else {}, weekday,
                    class_shares or {}, info)


def _coefficients(model: FittedModel) -> dict[str, float]:
    """The fitted regression coefficients by regressor name (the filter's last regression states)."""
    columns = list(design(pd.DatetimeIndex([model.origin]), model.origin, model.fourier, model.trend,
                          model.countries).columns)
    return dict(zip(columns, np.asarray(model.results.filtered_state)[-len(columns):, -1]))


def holiday_factor(model: FittedModel, country: str) -> float:
    """The fitted multiplier of a public holiday of ``country`` on the count."""
    return float(np.exp(_coefficients(model)[f"holiday_{country}"]))


def weekday_profile(model: FittedModel) -> list[float]:
    """The fitted weekday factors on the count scale (Monday first), normalised to mean 1."""
    coefficients = _coefficients(model)
    effects = np.array([0.0] + [coefficients[name] for name in ("tue", "wed", "thu", "fri", "sat", "sun")])
    factors = np.exp(effects)
    return [float(f) for f in factors / factors.mean()]


# --------------------------------------------------------------------------------------------
# into a scenario
# --------------------------------------------------------------------------------------------
def window(scenario: Scenario, start: dt.date, end: dt.date) -> tuple[dt.date, int]:
    """(calendar.start_date, calendar.days) measuring ``start`` .. ``end`` after the scenario's warm-up."""
    warmup = scenario.calendar.warmup_days
    days = warmup + (end - start).days + 1
    if days > DAYS_MAX:
        raise ScenarioError(Problem("--to", "", f"{start} to {end} with {warmup} warm-up day(s) is {days} simulated "
                                    f"days: at most {DAYS_MAX} (see 'Limits' in docs/scenario.md)"))
    return start - dt.timedelta(days=warmup), days


def daily_volumes(result: Forecast, quantile: str, scenario: Scenario, start: dt.date,
                  end: dt.date) -> dict[dt.date, float]:
    """The volume of every simulated date of the window, in the history's unit: the forecast's
    ``quantile`` column, or the observed count for a date the history already covers."""
    first, days = window(scenario, start, end)
    values: dict[dt.date, float] = {}
    for offset in range(days):
        date = first + dt.timedelta(days=offset)
        stamp = pd.Timestamp(date)
        if stamp in result.forecast.index:
            value = result.forecast.at[stamp, quantile]
        elif stamp in result.history.index and not math.isnan(result.history.at[stamp]):
            value = result.history.at[stamp]
        else:
            raise ScenarioError(Problem("--from", "", f"{date} (the window with the warm-up) is neither in the "
                                        "history nor forecast: choose a later --from"))
        values[date] = round(float(value), 1)
    return values


def demand_overlay(result: Forecast, quantile: str, scenario: Scenario, start: dt.date, end: dt.date,
                   counts: str = "entities") -> dict[str, Any]:
    """The part of a scenario file that sets the forecast window and its daily volumes, and what
    they count (``counts``: the history's unit; the model converts it to arriving entities)."""
    first, days = window(scenario, start, end)
    volumes = daily_volumes(result, quantile, scenario, start, end)
    return {"calendar": {"start_date": first, "days": days},
            "demand": {"counts": counts, "daily_volumes": {date: volume for date, volume in volumes.items()}}}


QUANTILES = ("p50", "p90")


def scenario_files(stem: Path) -> dict[str, Path]:
    """``STEM_p50.yaml`` and ``STEM_p90.yaml``, by quantile."""
    return {quantile: stem.with_name(f"{stem.name}_{quantile}.yaml") for quantile in QUANTILES}


def default_stem(scenario_path: Path) -> Path:
    """``<scenario>_forecast`` next to the scenario file."""
    return scenario_path.with_name(f"{scenario_path.stem}_forecast")


def forecast_yaml(result: Forecast, quantile: str, scenario: Scenario, scenario_path: Path, path: Path,
                  start: dt.date, end: dt.date, counts: str, command: str,
                  when: dt.datetime) -> tuple[str, dict[dt.date, float]]:
    """The scenario file that runs ``scenario_path`` on the forecast's ``quantile`` wave, and the
    daily volumes it sets (date -> count)."""
    name = path.stem if all(c.isalnum() or c in "_.-" for c in path.stem) else f"{scenario.name}_forecast_{quantile}"
    parent = os.path.relpath(scenario_path.resolve(), path.parent.resolve())
    first, days = window(scenario, start, end)
    conversion = (f"the history counts {counts}, and so does demand.counts here: the model turns them into "
                  "arriving entities by the class mix (docs/scenario.md, counting units)")
    header = [f"{name}: {scenario_path.name} on the {quantile.upper()} of a travel-wave forecast, written by",
              f"  {command}",
              f"on {when:%Y-%m-%d %H:%M} UTC (checkpoint-sim {__version__}). Re-run the command rather than editing "
              "the values by hand.", "",
              f"History: {result.source.name if result.source else 'history'}, {result.info['history_first']} to "
              f"{result.info['history_last']} ({result.info['history_days']} days with a count).",
              f"Model: {result.info['model']}.", format_quality(result) + ".",
              f"Window: {start} to {end} measured, from {first} with {scenario.calendar.warmup_days} warm-up "
              f"day(s): {days} simulated days. Dates the history covers take its observed count.",
              f"demand.daily_volumes: the forecast's {quantile.upper()} per date ({conversion}); on these dates "
              "it replaces daily_volume x weekday_factors x seasonal_factors.",
              "Each day at its own P90 is a stress wave, busier than a typical P90 season." if quantile == "p90" else
              "The P50 is the median day: half of the days are expected busier."]
    overlay = {"name": name, **demand_overlay(result, quantile, scenario, start, end, counts)}
    return extending_yaml("\n".join(header), parent, overlay), overlay["demand"]["daily_volumes"]


def format_quality(result: Forecast) -> str:
    """One line: the held-back check."""
    q = result.quality
    if not q:
        return "no held-back check (--holdout 0)"
    return (f"held-back check on the last {q['days']} days: MAPE of the P50 {100 * q['mape_p50']:.1f} %, "
            f"{100 * q['share_below_p90']:.0f} % of days at or below the P90 (nominal 90 %), "
            f"{100 * q['share_in_p10_p90']:.0f} % inside [P10, P90] (nominal 80 %)")


def format_summary(result: Forecast) -> str:
    """The plain text printed by ``checkpoint-sim forecast`` and written as ``forecast.md``."""
    info, ahead = result.info, result.forecast
    lines = [f"Forecast of {result.source.name if result.source else 'a history'}: {info['model']}.",
             f"History {info['history_first']} to {info['history_last']} ({info['history_days']} days with a count); "
             f"AR(1) coefficient {info['ar1']:.2f}, residual sd {info['sigma_log']:.3f} on the log scale.",
             format_quality(result) + ".",
             "Fitted weekday factors (Mon..Sun, mean 1): " + ", ".join(f"{f:.2f}" for f in result.weekday_factors)]
    if info.get("holiday_factors"):
        lines.append("Fitted public-holiday factors: " + ", ".join(
            f"{country} x{factor:.2f}" for country, factor in info["holiday_factors"].items()))
    if result.class_shares:
        lines.append("Class shares of the last 365 days: " + ", ".join(
            f"{name} {share:.3f}" for name, share in result.class_shares.items()))
    if len(ahead):
        lines += ["", f"Forecast {ahead.index[0].date()} to {ahead.index[-1].date()}, counts a day:", "",
                  "| month | days | mean P50 | mean P90 | largest P50 | largest P90 |", "|---|---|---|---|---|---|"]
        for month, rows in ahead.groupby(ahead.index.to_period("M")):
            lines.append(f"| {month} | {len(rows)} | {rows['p50'].mean():.0f} | {rows['p90'].mean():.0f} | "
                         f"{rows['p50'].max():.0f} | {rows['p90'].max():.0f} |")
    return "\n".join(lines)


__all__ = ["Forecast", "QUANTILES", "daily_volumes", "default_stem", "demand_overlay", "design", "fit_model",
           "forecast_history", "forecast_yaml", "format_quality", "format_summary", "holiday_dates", "holiday_factor",
           "quality", "read_history", "scenario_files", "window"]
