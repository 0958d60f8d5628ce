"""The ``pcdb_carnegie`` folder's files and what is known about them, declared once.

File names (relative to ``raw_dir/pcdb_carnegie``); what column 4 of each combined file holds;
the technology of each combined file; the declared repairs of known source errors (file, year,
column -> what is dropped and why); remarks on doubtful series (recorded as data notes, data kept).
No values or units here: the parsers read those from the files.
"""

from __future__ import annotations

SOURCE = "pcdb_carnegie"

EXP_DIR = "expCurveData"
SOLAR_FILE = "solar_pv_PCDB_IEA_IRENA.csv"
WIND_FILE = "wind_Bolinger_IEA_IRENA.csv"
OWID_FILE = "OurWorldInData/solar-pv-prices-vs-cumulative-capacity.csv"

#: What column 4 holds, per combined file: production through the previous year, or through the
#: year itself. Checked against the data (a file that does not follow it is refused).
CONVENTIONS: dict[str, str] = {SOLAR_FILE: "previous", WIND_FILE: "through_year"}
#: Technology of the combined files (their names are not PCDB technology names).
COMBINED_TECH: dict[str, tuple[str, str]] = {
    SOLAR_FILE: ("solar_pv_lcoe", "solar PV (PCDB, IEA, IRENA), LCOE-like cost vs generation"),
    WIND_FILE: ("wind_lcoe", "wind (Bolinger, IEA, IRENA), LCOE-like cost vs generation"),
}

#: Declared repairs of known source errors: (file, year, column index) -> what is done and why.
#: Column 2 = annual production (value dropped), 3 = cumulative (value dropped).
KNOWN_REPAIRS: dict[tuple[str, int, int], str] = {
    (f"{EXP_DIR}/Nuclear_Electricity.csv", 1992, 3): (
        "previous-production column falls from 112642.93 (1992 row) to 112439.93 (1993 row) "
        "with no production in 1991-92: cumulative capacity through 1992 dropped (source error)"
    ),
    (SOLAR_FILE, 2022, 2): (
        "production 2022 equals minus the cumulative column (a differencing artefact upstream): "
        "annual production 2022 dropped; cumulative through 2022 therefore unknown"
    ),
}

#: Remarks on series whose values or labels are doubtful (recorded as data notes, data kept).
REMARKS: dict[str, str] = {
    f"{EXP_DIR}/Fotovoltaica.csv": "header says 2005 USD/kWh (Spanish 'Costo'), but the values "
    "(2513 in 1957 to 3.59 in 2007) and the MW capacity column look like module prices per W; "
    "kept as labelled",
    f"{EXP_DIR}/Photovoltaics_2.csv": "cost per kWh against production in kWh of generation: an "
    "LCOE-like series, not a module price",
    f"{EXP_DIR}/Automotive_(US).csv": "labelled gallons/mile, but 12.0 in 1970 cannot be gallons "
    "per mile (US fleet ~0.07): an index of fuel use per distance; kept as labelled",
    f"{EXP_DIR}/Corn_(US).csv": "production variable is gross value of production in dollars per "
    "acre, not a quantity of corn",
    f"{EXP_DIR}/Beer_(Japan).csv": "header says USD 1955; Farmer & Lafond (2016) label the same "
    "prices '1955 Yen': the currency is uncertain, kept as labelled",
    f"{EXP_DIR}/Wind_Electricity.csv": "annual production jumps from 871 (1988) to 2,112,043 "
    "(1989) thousand kWh: a coverage or unit break in the source, kept as published",
    f"{EXP_DIR}/Photovoltaics.csv": "price in USD/Wp without a basis year: nominal dollars",
}
