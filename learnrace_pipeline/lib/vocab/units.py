"""Units: which unit strings the warehouse accepts, and what they measure.

Money units are written ``"<basis year> <currency>/<quantity>"`` (constant money) or
``"<currency>/<quantity>"`` (nominal), e.g. ``"2019 USD/W"``, ``"RMB/W"``. Physical and count units
are listed in :data:`PHYSICAL`. :func:`is_known` decides; :func:`price_basis_year` extracts the year.
Extend the tables here, never inline in a reader, when a source brings a new unit.
"""

from __future__ import annotations

import re

CURRENCIES = frozenset({"USD", "EUR", "RMB", "DKK", "DEM", "JPY", "GBP", "BRL", "INR", "CNY"})

#: Quantities a price can be "per", and what they are.
QUANTITIES: dict[str, str] = {
    "W": "power capacity, watt",
    "Wp": "peak power capacity, watt",
    "kW": "power capacity, kilowatt",
    "MW": "power capacity, megawatt",
    "kWh": "energy, kilowatt-hour",
    "MWh": "energy, megawatt-hour",
    "MMBtu": "energy, million British thermal units",
    "lb": "mass, pound",
    "kg": "mass, kilogram",
    "t": "mass, metric ton",
    "short ton": "mass, short ton",
    "barrel": "volume, barrel of oil",
    "gallon": "volume, US gallon",
    "bit": "memory, bit",
    "kbit": "memory, kilobit",
    "Mbit": "memory, megabit",
    "transistor": "count, transistor",
    "unit": "count, one item",
    "vehicle": "count, vehicle",
    "Mb": "DNA sequence, megabase",
    "genome": "DNA sequence, human-size genome",
    "mile-inch": "pipeline length times diameter",
    "1000 bushels": "agricultural output",
    "thousand mcf": "gas, thousand cubic feet",
    "bbl": "volume, barrel",
    "kW-yr": "energy, kilowatt-year",
}

#: Units that are not money per quantity: physical inputs, counts, capacities, performance.
PHYSICAL: frozenset[str] = frozenset(
    {
        "W",
        "kW",
        "MW",
        "GW",
        "kWh",
        "MWh",
        "GWh",
        "TWh",
        "Wp",
        "MWp",
        "lb",
        "million lb",
        "kg",
        "t",
        "thousand t",
        "million t",
        "short ton",
        "thousand short ton",
        "barrel",
        "million barrel",
        "thousand barrel",
        "gallon",
        "million gallon",
        "unit",
        "thousand unit",
        "million unit",
        "vehicle",
        "robot",
        "cell",
        "million cell",
        "bit",
        "million bit",
        "transistor",
        "million transistor",
        "Mb",
        "genome",
        "mile",
        "mile-inch",
        "thousand mile-inch",
        "acre",
        "million acre",
        "bushel",
        "million bushel",
        "1000 bushels",
        "head",
        "gallon/mile",
        "acre/1000 bushels",
        "head/million lb",
        "FLOP",
        "FLOP/s",
        "count",
        "USD",
        "2019 USD",
        "2023 USD",
        "thousand mcf",
        "million mcf",
        "kW-yr",
        "hectoliter",
        "million hectoliter",
        "liter",
        "million liter",
        "m3",
        "thousand m3",
        "million m3",
        "GJ",
        "PJ",
        "dollar value",
    }
)

#: Units brought by the PCDB-family and OWID readers (pcdb_carnegie, farmer_lafond_alstott,
#: owid_datasets). Scaled units keep the source's numbers unchanged.
QUANTITIES["kb"] = "DNA sequence, kilobase"
PHYSICAL = PHYSICAL | frozenset(
    {
        "kb",  # DNA sequence, kilobase
        "Gb",  # DNA sequence, gigabase
        "billion mile",
        "billion barrel",
        "billion lb",
        "billion unit",
        "million Mbit",
    }
)

#: Performance units of the Magee et al. (2016) series (farmer_lafond_alstott; higher is better).
#: Values keep the source's numbers; composite indices keep the published ratio, whose scale the
#: source does not state (a constant factor cancels in the log differences the fits use).
PHYSICAL = PHYSICAL | frozenset(
    {
        "Mbit/cm3",  # storage density, megabits per cubic centimetre
        "bit/s/m2",  # wireless coverage density, bits per second per square metre (10 MHz band)
        "bit/s/Hz",  # spectral efficiency
        "kbit/s",  # throughput
        "calculation/s",  # calculations per second of electronic computers
        "mV/um2",  # image-sensor sensitivity, millivolt per square micrometre
        "1/(mm*s)",  # imaging: 1 / (resolution in mm x scan time in s)
        "Wh/kg",  # specific energy
        "kWh/kg",
        "Wh/L",  # energy density
        "W/kg",  # specific power
        "W/L",  # power density
        "hp/accuracy",  # milling machines: horsepower / machining accuracy (index)
        "speed/layer thickness",  # stereolithography (index)
        "areal throughput/accuracy",  # photolithography (index)
        "K",  # kelvin (superconducting critical temperature)
    }
)

_MONEY = re.compile(r"^(?:(?P<year>1[89]\d\d|20\d\d) )?(?P<cur>[A-Z]{3})/(?P<qty>.+)$")


def is_known(unit: str | None) -> bool:
    """True when ``unit`` is a declared money-per-quantity or physical unit."""
    if unit is None:
        return False
    if unit in PHYSICAL:
        return True
    m = _MONEY.match(unit)
    return bool(m and m["cur"] in CURRENCIES and (m["qty"] in QUANTITIES or m["qty"] in PHYSICAL))


def price_basis_year(unit: str) -> int | None:
    """The constant-money year of a money unit (``"2019 USD/W"`` -> 2019), or None."""
    m = _MONEY.match(unit)
    return int(m["year"]) if m and m["year"] else None


def is_money(unit: str) -> bool:
    """True for money-per-quantity units."""
    m = _MONEY.match(unit)
    return bool(m and m["cur"] in CURRENCIES)
