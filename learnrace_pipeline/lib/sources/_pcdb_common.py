"""Helpers shared by the PCDB-family readers (``pcdb_carnegie``, ``farmer_lafond_alstott``).

Both sources carry the Santa Fe Performance Curve Database (PCDB) series, whose units are written
free-hand (``1966 USD/lbs``, ``2005 US cents/KWH``, ``Heads/Mil. lbs``, ``USD 1955``, ``Yen``).
:func:`parse_cost_unit` and :func:`parse_quantity_unit` turn that text into the canonical unit
strings of :mod:`learnrace_pipeline.lib.vocab.units`; anything they cannot read is a
:class:`DataError` naming where the text came from, never a guess.

Canonicalisation rules (each repair is reported back so the reader can record it in its notes):

- currencies: ``USD``/``dollar``/``$`` -> ``USD``; ``Yen`` -> ``JPY``; ``DKK``, ``DEM``, ``EUR``
  as written. ``US cents`` become ``USD`` with a factor 0.01 applied to the values.
- a money unit keeps its basis year (``1966 USD/lb``); ``USD 1955`` (year after the currency) is
  the same as ``1955 USD``. No year means nominal money (price basis year null).
- quantities: ``lbs``/``pound`` -> ``lb``, ``Watt`` -> ``W``, ``KWH`` -> ``kWh``, ``Kilobase`` ->
  ``kb``, ``thousand bits`` -> ``kbit``, ``human-size genome`` -> ``genome``, ... (:data:`BASES`).
  A scale word (``Mil.``, ``Million``, the PCDB misspelling ``Millon``, ``Billion``, ``Thousand``)
  is kept as ``million``/``billion``/``thousand`` unless an exact SI equivalent exists
  (``Thousand KWH`` -> ``MWh``, ``Billion KWH`` -> ``TWh``): values are never rescaled.
- a money unit with no quantity (``Price (1958 USD)``, ``Price (Yen)``) is per ``unit`` of
  product as the source counts it; the quantity is not guessed from the production column.
- a quantity taken from the label (``Price per Pound (1958 USD)``) is used when the bracket has
  none.
- mangled characters (the PCDB gas-pipeline headers lost the character after ``mile-inch`` in an
  encoding round trip: ``ï¿½``) are removed and reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.vocab import units as units_mod
from learnrace_pipeline.lib.vocab.nations import try_code

#: Currency spellings -> (ISO code, factor applied to values).
CURRENCY_WORDS: dict[str, tuple[str, float]] = {
    "usd": ("USD", 1.0),
    "us$": ("USD", 1.0),
    "$": ("USD", 1.0),
    "dollar": ("USD", 1.0),
    "dollars": ("USD", 1.0),
    "us cents": ("USD", 0.01),
    "us cent": ("USD", 0.01),
    "usd cents": ("USD", 0.01),
    "cents": ("USD", 0.01),
    "yen": ("JPY", 1.0),
    "jpy": ("JPY", 1.0),
    "dkk": ("DKK", 1.0),
    "dem": ("DEM", 1.0),
    "eur": ("EUR", 1.0),
    "gbp": ("GBP", 1.0),
}

#: Scale words -> canonical scale prefix.
SCALES: dict[str, str] = {
    "mil.": "million",
    "mil": "million",
    "million": "million",
    "millon": "million",  # PCDB misspelling (Paraxylene, Low_Density_Polyethylene)
    "millions": "million",
    "billion": "billion",
    "billions": "billion",
    "thousand": "thousand",
    "thousands": "thousand",
}

#: Base quantity spellings (lower case) -> canonical unit.
BASES: dict[str, str] = {
    "lb": "lb",
    "lbs": "lb",
    "lbs.": "lb",
    "pound": "lb",
    "pounds": "lb",
    "ton": "t",
    "tons": "t",
    "short ton": "short ton",
    "short tons": "short ton",
    "gallon": "gallon",
    "gallons": "gallon",
    "barrel": "barrel",
    "barrels": "barrel",
    "mile": "mile",
    "miles": "mile",
    "mile-inch": "mile-inch",
    "acre": "acre",
    "acres": "acre",
    "head": "head",
    "heads": "head",
    "bushel": "bushel",
    "bushels": "bushel",
    "1000 bushels": "1000 bushels",
    "w": "W",
    "watt": "W",
    "watts": "W",
    "wp": "Wp",
    "kw": "kW",
    "mw": "MW",
    "mwp": "MWp",
    "gw": "GW",
    "kwh": "kWh",
    "mwh": "MWh",
    "gwh": "GWh",
    "twh": "TWh",
    "gj": "GJ",
    "bit": "bit",
    "bits": "bit",
    "kbit": "kbit",
    "mbit": "Mbit",
    "mbits": "Mbit",
    "kilobase": "kb",
    "kilobases": "kb",
    "megabase": "Mb",
    "gbase": "Gb",
    "genome": "genome",
    "human-size genome": "genome",
    "unit": "unit",
    "units": "unit",
}

#: Scaled units with an exact canonical equivalent (values unchanged).
EQUIVALENT: dict[str, str] = {
    "thousand kWh": "MWh",
    "million kWh": "GWh",
    "billion kWh": "TWh",
    "thousand MW": "GW",
    "thousand W": "kW",
    "thousand bit": "kbit",
    "thousand kb": "Mb",
    "million kb": "Gb",
}

#: Quantities of energy: money per these is a levelised or energy cost.
ENERGY = frozenset({"kWh", "MWh", "GWh", "TWh"})
#: Quantities of power capacity: money per these is a capacity (installed) cost.
CAPACITY = frozenset({"W", "Wp", "kW", "MW", "MWp", "GW"})

MOJIBAKE = ("ï¿½", "\ufffd", "Â")

_HEADER = re.compile(r"^(?P<label>[^()]*?)\s*\((?P<unit>.*)\)\s*$")
_YEAR = re.compile(r"^(1[89]\d\d|20\d\d)$")


@dataclass
class Unit:
    """A canonical unit read from free text, with the factor that brings values into it."""

    unit: str
    factor: float = 1.0
    money: bool = False
    repairs: list[str] = field(default_factory=list)

    @property
    def price_basis_year(self) -> int | None:
        return units_mod.price_basis_year(self.unit) if self.money else None


@dataclass(frozen=True)
class Where:
    """Where a piece of unit text came from (for DataError)."""

    source: str
    file: str
    row: int | None
    column: str | None

    def error(self, problem: str) -> DataError:
        return DataError(
            problem, source=self.source, file=self.file, row=self.row, column=self.column
        )


def split_header(header: str, where: Where) -> tuple[str, str]:
    """``"Price (1966 USD/lbs)"`` -> ``("Price", "1966 USD/lbs")``; DataError without a bracket."""
    m = _HEADER.match(header.strip())
    if not m:
        raise where.error(
            f"header {header!r} states no unit in brackets, e.g. 'Price (1966 USD/lbs)'"
        )
    return m["label"].strip(), m["unit"].strip()


def strip_mojibake(text: str) -> tuple[str, bool]:
    """Remove mangled-encoding characters; True when any were found."""
    out = text
    for bad in MOJIBAKE:
        out = out.replace(bad, "")
    # the single replacement characters left by a double decoding ("¿", "½") after the removal
    cleaned = re.sub(r"[¿½²³]+$", "", out)
    return cleaned.strip(), cleaned.strip() != text.strip()


def parse_quantity_unit(text: str, where: Where) -> Unit:
    """A physical quantity such as ``Mil. lbs``, ``Billion KWH``, ``Short Tons of Primary Production``.

    Returns the canonical physical unit (never money unless written as ``Dollar/acre`` and the like,
    which becomes ``USD/acre``). A bare scale (``Mil.``, ``Billions``) counts items:
    ``million unit``, ``billion unit``.
    """
    raw = text
    text, mangled = strip_mojibake(text)
    repairs = [f"mangled character removed from unit {raw!r}"] if mangled else []
    if "/" in text:
        num, den = (s.strip() for s in text.split("/", 1))
        if num.lower() in CURRENCY_WORDS:
            cur, factor = CURRENCY_WORDS[num.lower()]
            qty = _quantity(den, where, raw)
            unit = f"{cur}/{qty}"
            _check_known(unit, where, raw)
            return Unit(unit, factor, True, repairs)
        unit = f"{_quantity(num, where, raw)}/{_quantity(den, where, raw)}"
        _check_known(unit, where, raw)
        return Unit(unit, 1.0, False, repairs)
    unit = _quantity(text, where, raw)
    _check_known(unit, where, raw)
    return Unit(unit, 1.0, False, repairs)


def _quantity(text: str, where: Where, raw: str) -> str:
    """Canonical form of a scaled quantity (``Mil. lbs`` -> ``million lb``)."""
    t = " ".join(text.strip().split())
    t = re.sub(r"\s+of\s+.*$", "", t, flags=re.IGNORECASE)  # "Short Tons of Primary Production"
    low = t.lower()
    if low in BASES:
        return BASES[low]
    scale = None
    m = re.match(r"^(mil\.|[a-z]+)\s*(.*)$", low)
    if m and m[1] in SCALES:
        scale, low = SCALES[m[1]], m[2].strip()
    if not low:
        base = "unit"
    elif low in BASES:
        base = BASES[low]
    else:
        raise where.error(f"unknown unit {raw!r} (quantity {text.strip()!r} is not declared)")
    if scale is None:
        return base
    scaled = f"{scale} {base}"
    return EQUIVALENT.get(scaled, scaled)


def parse_cost_unit(text: str, where: Where, *, label: str = "") -> Unit:
    """A cost unit such as ``1966 USD/lbs``, ``2005 US cents/KWH``, ``USD 1955``, ``Gallons/Mile``.

    ``label`` is the header text before the bracket; its ``per <quantity>`` (``Price per Pound``)
    supplies the quantity when the bracket has none.
    """
    raw = text
    text, mangled = strip_mojibake(text)
    repairs = [f"mangled character removed from unit {raw!r}"] if mangled else []
    t = " ".join(text.split())
    t = re.sub(r"\s+per\s+", "/", t, flags=re.IGNORECASE)  # "USD per GJ"
    money_part, _, qty_part = t.partition("/")
    tokens = money_part.split()
    year = None
    if tokens and _YEAR.match(tokens[0]):
        year, tokens = tokens[0], tokens[1:]
    elif tokens and _YEAR.match(tokens[-1]):  # "USD 1955"
        year, tokens = tokens[-1], tokens[:-1]
    cur_word = " ".join(tokens).lower()
    if cur_word in CURRENCY_WORDS:
        cur, factor = CURRENCY_WORDS[cur_word]
        if factor != 1.0:
            repairs.append(f"{' '.join(tokens)} converted to {cur} (values x {factor:g})")
        if qty_part:
            qty = _quantity(qty_part, where, raw)
        else:
            m = re.search(r"\bper\s+(.+)$", label, flags=re.IGNORECASE)
            if m:
                qty = _quantity(m[1], where, raw)
                repairs.append(f"quantity {qty!r} taken from the header label {label!r}")
            else:
                qty = "unit"
                repairs.append(
                    f"unit {raw!r} states no quantity: recorded per 'unit' of product as the source counts it"
                )
        unit = f"{year} {cur}/{qty}" if year else f"{cur}/{qty}"
        _check_known(unit, where, raw)
        return Unit(unit, factor, True, repairs)
    if year is not None:
        raise where.error(f"unknown unit {raw!r} (currency {' '.join(tokens)!r} is not declared)")
    if not qty_part:
        raise where.error(f"unknown unit {raw!r} (neither a currency nor a ratio of quantities)")
    unit = f"{_quantity(money_part, where, raw)}/{_quantity(qty_part, where, raw)}"
    _check_known(unit, where, raw)
    return Unit(unit, 1.0, False, repairs)


def _check_known(unit: str, where: Where, raw: str) -> None:
    if not units_mod.is_known(unit):
        raise where.error(
            f"unknown unit {raw!r} (read as {unit!r}, not declared in vocab/units.py)"
        )


def metric_kind(label: str, unit: Unit) -> str:
    """The metric kind of a cost column from its label and unit.

    Non-money units are ``input_per_output``. A money column labelled ``Cost``/``Costo`` is
    ``lcoe`` per unit of energy, ``installed_cost`` per unit of capacity, otherwise ``cost``.
    Anything else (``Price``, ``Unit cost``, no label) is ``price``, except that money per unit of
    electricity under a ``Unit cost`` label is ``lcoe``.
    """
    if not unit.money:
        return "input_per_output"
    qty = unit.unit.split("/", 1)[1]
    low = label.strip().lower()
    if low.startswith(("cost", "costo", "unit cost")):
        if qty in ENERGY:
            return "lcoe"
        if qty in CAPACITY and not low.startswith("unit cost"):
            return "installed_cost"
        return "cost"
    return "price"


#: Nation of each PCDB-family technology, with the reason. Named in the series name = certain;
#: otherwise a documented guess from the series' magnitudes or its PCDB source.
NATIONS: dict[str, tuple[str, str]] = {}


def _declare(codes: str, reason: str, techs: str) -> None:
    for t in techs.split():
        NATIONS[t] = (codes, reason)


_declare("USA", "named in the series", "automotive_us corn_us milk_us wheat_us")
_declare("JPN", "named in the series", "beer_japan")
_declare("BRA", "named in the series", "ethanol_brazil")
_declare("DNK", "named in the series", "wind_turbine_denmark")
_declare("DEU", "named in the series", "wind_turbine_2_germany")
_declare("OECD", "named in the series", "nuclear_power_oecd")
_declare(
    "USA",
    "guess: US chemical-industry price and output statistics (the PCDB 1966 USD/lb series, "
    "1950s to 1972)",
    "acrylic_fiber aluminum aniline bisphenol_a caprolactam carbon_black carbon_disulfide "
    "cyclohexane ethyl_alcohol ethylene_2 ethylene_glycol formaldehyde hydrofluoric_acid "
    "isopropyl_alcohol magnesium maleic_anhydride neoprene_rubber phenol polyester_fiber "
    "polyethylene_hd polyethylene_ld sodium sodium_chlorate sodium_hydrosulfite sorbitol "
    "titanium_dioxide trichloroethane urea vinyl_acetate vinyl_chloride",
)
_declare(
    "USA",
    "guess: US output statistics in 1958 USD; the magnitudes match US totals (e.g. 3.3 "
    "billion barrels of crude oil in 1968)",
    "benzene crude_oil electric_power ethylene low_density_polyethylene motor_gasoline "
    "paraxylene polypropylene polyvinylchloride primary_aluminum primary_magnesium "
    "refined_cane_sugar ford_model_t",
)
_declare(
    "USA",
    "guess: US energy statistics (magnitudes match US totals, e.g. 17.8 TWh of wind "
    "generation in 2005, 354 MW of SEGS solar-thermal capacity)",
    "geothermal_electricity wind_electricity nuclear_electricity solar_thermal "
    "solar_thermal_electricity concentrating_solar ethanol_2 onshore_gas_pipeline "
    "offshore_gas_pipeline",
)
_declare(
    "WLD",
    "guess: world market series (global capacity or shipments)",
    "ccgt_power ccgt_electricity scgt dram transistor photovoltaics photovoltaics_2 "
    "photovoltaics_4 fotovoltaica solar_water_heaters wind_power capillary_dna_sequencing "
    "shotgun_sanger_dna_sequencing dna_sequencing solar_pv_lcoe wind_lcoe solar_pv_module",
)


def nation_of(technology: str, raw_name: str) -> tuple[str, str]:
    """(nation code, reason) for a PCDB-family technology.

    Undeclared technologies (e.g. series added upstream later) take a nation named in brackets in
    their raw name (``Foo_(Japan)``) or else ``WLD``, and the reason says it was not declared.
    """
    if technology in NATIONS:
        return NATIONS[technology]
    m = re.search(r"\(([^()]+)\)\s*$", raw_name.replace("_", " "))
    if m and (code := try_code(m[1])):
        return code, "named in the series (nation not declared for this technology)"
    return "WLD", "nation not declared for this technology: WLD assumed"
