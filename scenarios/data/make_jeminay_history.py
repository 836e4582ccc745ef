"""Write jeminay_history.csv: a constructed daily history of people crossing at Maikapchagai–Jeminay.

There is no published daily series for the crossing. This script builds one that is consistent
with the stated figures, so that `checkpoint-sim forecast` has something realistic to fit:

- "Jeminay Port's Tourism Surge: China-Kazakhstan Visa Exemption Attracts Thousands" (Travel And
  Tour World, 2025): over 49,000 tourists by mid-July 2025, "daily crossing has reached more than
  830" in the summer vacation season, a sharp rise of self-drive tours in May and June;
- popularmigrant.com/archives/8249 (via the reference notes on the crossings): ~500 a day by
  August 2024, peaks over 700.

Construction (every step below is an ASSUMPTION except the two totals it is scaled to):
1. A mean level per month, people a day in both directions (MONTHLY below), placed at mid-month
   (July 2025 at 8 July, the middle of 1-15 July) and interpolated linearly from day to day;
   2025 is about 1.5 x 2024 (the visa exemption in force from 10 November 2024).
2. Times a weekday factor (WEEKDAY, mean 1: self-drive tourists cross more from Friday to Sunday).
3. Counts drawn as Poisson with a day-to-day log-normal factor (sd 0.08), seed 20250715.
4. The days 1 Jan - 15 Jul 2025 are rescaled (largest-remainder rounding) so that they add up to
   exactly 49,000 people: the "49,000 tourists" read as every person crossing, both directions.
The figures this gives (total, August 2024 mean, the largest days of July 2025) are printed in
the CSV's header. The seed's 12,000 vehicles over the same days are 0.245 vehicles per person.

Run from the repository root:  python scenarios/data/make_jeminay_history.py > scenarios/data/jeminay_history.csv
"""
from __future__ import annotations

import datetime as dt
import sys

import numpy as np
import pandas as pd

SEED = 20250715
FIRST, LAST = dt.date(2024, 1, 1), dt.date(2025, 7, 15)
TOTAL_2025 = 49_000                   # people, 1 Jan - 15 Jul 2025 (seed: "49,000 tourists by mid-July")
MONTHLY = {2024: [55, 60, 85, 140, 230, 330, 450, 540, 400, 250, 130, 90],      # ASSUMPTION
           2025: [80, 90, 120, 200, 320, 440, 820]}                               # ASSUMPTION (July: 1-15)
WEEKDAY = [0.88, 0.82, 0.86, 0.94, 1.12, 1.30, 1.08]   # Monday first, mean 1 (ASSUMPTION)
NOISE_SD = 0.08                                        # day-to-day log-normal factor (ASSUMPTION)


def mean_per_day() -> pd.Series:
    anchors = {}
    for year, levels in MONTHLY.items():
        for month, level in enumerate(levels, start=1):
            day = 8 if (year, month) == (2025, 7) else 15
            anchors[pd.Timestamp(year, month, day)] = level
    dates = pd.date_range(FIRST, LAST, freq="D")
    anchor = pd.Series(anchors)
    def days(index: pd.DatetimeIndex) -> np.ndarray:
        return index.to_numpy().astype("datetime64[D]").astype(float)
    level = np.interp(days(dates), days(anchor.index), anchor.to_numpy())   # constant beyond the ends
    return pd.Series(level * np.array(WEEKDAY)[dates.day_of_week], index=dates)


def history() -> pd.Series:
    rng = np.random.default_rng(SEED)
    mean = mean_per_day()
    noise = np.exp(rng.normal(-NOISE_SD ** 2 / 2, NOISE_SD, len(mean)))
    counts = pd.Series(rng.poisson(mean.to_numpy() * noise).astype(float), index=mean.index)
    window = counts.index >= pd.Timestamp(2025, 1, 1)
    scaled = counts[window] * TOTAL_2025 / counts[window].sum()
    whole = np.floor(scaled)
    remainder = int(TOTAL_2025 - whole.sum())
    whole.iloc[np.argsort(-(scaled - whole).to_numpy(), kind="stable")[:remainder]] += 1
    counts[window] = whole
    return counts.astype(int)


def main() -> None:
    counts = history()
    july = counts[counts.index >= pd.Timestamp(2025, 7, 1)]
    august_2024 = counts[(counts.index >= pd.Timestamp(2024, 8, 1)) & (counts.index <= pd.Timestamp(2024, 8, 31))]
    out = sys.stdout
    out.write("# Maikapchagai-Jeminay: people crossing a day, both directions. CONSTRUCTED, not observed:\n")
    out.write("# written by scenarios/data/make_jeminay_history.py (see its docstring and scenarios/data/README.md).\n")
    out.write(f"# 1 Jan - 15 Jul 2025: {counts[counts.index >= pd.Timestamp(2025, 1, 1)].sum():,} people "
              "(seed: 49,000 tourists by mid-July 2025);\n")
    out.write(f"# 1-15 Jul 2025: mean {july.mean():.0f} a day, {int((july > 830).sum())} days above 830, "
              f"largest {july.max()} (seed: more than 830 a day in summer);\n")
    out.write(f"# August 2024: mean {august_2024.mean():.0f} a day, largest {august_2024.max()} "
              "(popularmigrant.com: ~500 a day by Aug 2024, peaks over 700).\n")
    out.write("date,count\n")
    for date, count in counts.items():
        out.write(f"{date.date()},{count}\n")


if __name__ == "__main__":
    main()
