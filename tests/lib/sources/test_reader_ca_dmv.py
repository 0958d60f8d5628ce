"""CA DMV autonomous-vehicle reader: real figures (shared/notes/data-av-ai.md, A3/A4) and bad input."""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources import ca_dmv_av
from learnrace_pipeline.lib.sources.base import Notes
from learnrace_pipeline.lib.sources.schema import TABLES
from learnrace_pipeline.lib.vocab import nations

SRC = "ca_dmv_av"
M21 = "data/Mileage/2021-Autonomous-Mileage-Reports-CSV.csv"
M22 = "data/Mileage/2022-Autonomous-Mileage-Reports-CSV.csv"
M22D = "data/Mileage/2022-Autonomous-Mileage-Reports-CSV-driverless.csv"
E2223 = (
    "data/Disengagements/2022-23-Autonomous-Vehicle-Disengagement-Reports-CSV-first-time-filers.csv"
)
E2122 = (
    "data/Disengagements/2021-22-Autonomous-Vehicle-Disengagement-Reports-CSV-first-time-filers.csv"
)


# ------------------------------------------------------------------------------------------------
# Real files


@pytest.fixture(scope="module")
def out(raw_dir: Path) -> dict[str, pl.DataFrame]:
    return ca_dmv_av.read(raw_dir)


@pytest.fixture(scope="module")
def av(out) -> pl.DataFrame:
    return out["av_testing"]


@pytest.fixture(scope="module")
def notes(out) -> pl.DataFrame:
    return out["data_notes"]


def _one(
    av: pl.DataFrame, company: str, ry: int, permit: str = "safety_driver"
) -> tuple[float, int]:
    sel = av.filter(
        (pl.col("company") == company)
        & (pl.col("report_year") == ry)
        & (pl.col("permit_type") == permit)
    )
    assert sel.height >= 1, (company, ry, permit)
    return float(sel["autonomous_miles"].sum()), int(sel["disengagements"].sum())


@pytest.mark.raw
def test_schema_and_row_count(av):
    assert av.columns == list(TABLES["av_testing"])
    # 111 company x RY rows from the workbook, 73 from the 2021/2022 CSVs and the 23-month files.
    assert av.height == 184
    assert av.filter(pl.col("source_file") == ca_dmv_av.XLSX).height == 111


@pytest.mark.raw
@pytest.mark.parametrize(
    ("company", "ry", "miles", "dis"),
    [
        ("Waymo", 2015, 424_331, 341),
        ("Waymo", 2016, 635_868, 124),
        ("Waymo", 2018, 1_255_990, 114),
        ("Waymo", 2019, 1_454_137, 110),
        ("Waymo", 2021, 2_325_843, 292),
        ("Waymo", 2022, 2_900_145, 170),
        ("Cruise", 2015, 239, 103),
        ("Cruise", 2019, 831_040, 68),
        ("Cruise", 2021, 876_105, 21),
        ("Cruise", 2022, 863_111, 9),
        ("Zoox", 2021, 154_043, 21),
        ("Apple", 2018, 79_745, 69_535),
        ("Uber ATG", 2017, 18_684, 46_623),
        ("Baidu Apollo", 2019, 108_300, 6),
        ("Pony.ai", 2019, 174_845, 27),
        ("Pony.ai", 2021, 305_617, 21),
        ("WeRide", 2017, 3_392, 162),
        ("AutoX", 2021, 50_108, 1),
        ("DiDi", 2018, 550, 0),
        ("Mercedes-Benz", 2021, 58_611, 272),
        ("Toyota (TRI)", 2019, 1_817, 2_947),
        ("aiMotive", 2022, 15_215, 680),
        ("Aurora", 2022, 26, 0),
    ],
)
def test_company_year_figures(av, company, ry, miles, dis):
    m, d = _one(av, company, ry)
    assert round(m) == miles
    assert d == dis


@pytest.mark.raw
@pytest.mark.parametrize(
    ("ry", "us", "cn", "other", "all_miles", "all_dis"),
    [
        # (firms, miles, dis) per nation group; notes A3 "Totals by nation per RY"
        (2015, (2, 424_570, 444), (0, 0, 0), (5, 35_598, 2_406), 460_168, 2_850),
        (2016, (6, 647_472, 554), (1, 23, 5), (6, 9_495, 1_989), 656_989, 2_548),
        (2017, (13, 529_447, 54_389), (5, 12_314, 1_251), (5, 9_982, 1_737), 551_743, 57_377),
        (2018, (18, 1_905_993, 94_483), (9, 80_613, 1_131), (7, 11_472, 1_465), 1_998_078, 97_079),
        (2019, (18, 2_505_635, 3_634), (8, 340_999, 333), (7, 29_464, 5_198), 2_876_099, 9_165),
        (2021, (12, 3_520_569, 1_330), (7, 493_095, 34), (9, 77_502, 1_314), 4_091_166, 2_678),
        (2022, (13, 4_585_614, 7_074), (7, 438_384, 29), (9, 83_843, 1_319), 5_107_842, 8_422),
    ],
)
def test_nation_totals(av, ry, us, cn, other, all_miles, all_dis):
    sd = av.filter((pl.col("permit_type") == "safety_driver") & (pl.col("report_year") == ry))
    assert not sd["partial_year"].any()
    grp = (
        pl.when(pl.col("nation") == "USA")
        .then(pl.lit("US"))
        .when(pl.col("nation") == "CHN")
        .then(pl.lit("CN"))
        .otherwise(pl.lit("other"))
    )
    active = (pl.col("autonomous_miles") > 0) | (pl.col("disengagements") > 0)
    got = {
        r["g"]: (r["firms"], round(r["miles"]), r["dis"])
        for r in sd.group_by(grp.alias("g"))
        .agg(
            active.sum().alias("firms"),
            pl.col("autonomous_miles").sum().alias("miles"),
            pl.col("disengagements").sum().alias("dis"),
        )
        .iter_rows(named=True)
    }
    assert got.get("US", (0, 0, 0)) == us
    assert got.get("CN", (0, 0, 0)) == cn
    assert got.get("other", (0, 0, 0)) == other
    assert round(sd["autonomous_miles"].sum()) == all_miles
    assert sd["disengagements"].sum() == all_dis


@pytest.mark.raw
def test_driverless_kept_separate(av):
    dl = av.filter(pl.col("permit_type") == "driverless")
    by = {
        r["report_year"]: r["autonomous_miles"]
        for r in dl.group_by("report_year")
        .agg(pl.col("autonomous_miles").sum())
        .iter_rows(named=True)
    }
    assert round(by[2021]) == 24_973
    assert round(by[2022]) == 622_259
    assert round(_one(av, "Cruise", 2021, "driverless")[0]) == 6_366
    assert round(_one(av, "Waymo", 2022, "driverless")[0]) == 51_639
    assert _one(av, "Pony.ai", 2021, "driverless") == pytest.approx((9_042.86, 1))
    # the only driverless disengagement is Pony.ai's
    assert dl["disengagements"].sum() == 1


@pytest.mark.raw
def test_same_vin_in_both_permits_not_a_duplicate(raw_dir, av):
    sd, _ = ca_dmv_av.read_mileage(raw_dir, M22, Notes(SRC))
    dl, _ = ca_dmv_av.read_mileage(raw_dir, M22D, Notes(SRC))
    assert len({v.vin for v in sd} & {v.vin for v in dl}) == 543
    waymo = av.filter((pl.col("company") == "Waymo") & (pl.col("report_year") == 2022))
    assert sorted(waymo["permit_type"]) == ["driverless", "safety_driver"]


@pytest.mark.raw
def test_mileage_file_counts(raw_dir):
    for rel, n_rows, n_makers in ((M21, 1174, 26), (M22, 1553, 26), (M22D, 552, 4)):
        vs, months = ca_dmv_av.read_mileage(raw_dir, rel, Notes(SRC))
        assert len(vs) == n_rows, rel
        assert len({v.raw_name for v in vs}) == n_makers, rel
        assert len(months) == 12


@pytest.mark.raw
def test_workbook_rows_formulas_and_blank_rows(raw_dir, notes):
    n = Notes(SRC)
    rows = ca_dmv_av.read_workbook(raw_dir, n)
    # 1,040 data rows, less the Dec-2019 ThorDrive row (RY2020), which is dropped deliberately
    assert len(rows) == 1039
    assert len({r["raw"] for r in rows} | {"THORDRIVE"}) == 49
    assert len({r["company"].name for r in rows}) == 45
    assert sum(r["disengagements"] for r in rows) == 116_951 + 52_071 - 3
    assert min((r["year"], r["month"]) for r in rows) == (2014, 9)
    # 32 MILES_DRIVEN formula cells, read as their cached values
    wb = openpyxl.load_workbook(raw_dir / SRC / ca_dmv_av.XLSX, read_only=True, data_only=False)
    formula = wb[ca_dmv_av.SHEET]["C208"].value
    wb.close()
    assert formula == "=34.6+46.6"
    row208 = next(r for r in rows if r["_row"] == 208)
    assert row208["raw"] == "BOSCH" and row208["miles"] == pytest.approx(81.2)
    fnotes = notes.filter(pl.col("note").str.starts_with("formula cell"))
    assert fnotes.height == 32
    assert set(fnotes["column"]) == {"MILES_DRIVEN"}
    assert (
        notes.filter(pl.col("note") == "190 blank row(s) in sheet COMBINED_SUMMARY skipped").height
        == 1
    )
    dropped = notes.filter(pl.col("note").str.contains("belongs to RY2020"))
    assert dropped.height == 1 and dropped["row"][0] == 889
    # months with 0 miles but disengagements are kept and flagged (4 kept + the dropped Dec-2019)
    assert notes.filter(pl.col("note").str.contains("0 miles but")).height == 4


@pytest.mark.raw
def test_number_repairs_recorded(notes):
    thousands = notes.filter(pl.col("note").str.contains("thousands separators"))
    assert thousands.height == 507 + 548 + 2
    space = notes.filter(pl.col("raw_value") == "830 .04")
    assert space.height == 1 and space["file"][0] == M21 and space["column"][0] == "ANNUAL TOTAL"
    empty = notes.filter(pl.col("note").str.starts_with("empty monthly miles"))
    assert empty.group_by("file").len().sort("file").rows() == sorted(
        [
            ("data/Mileage/2020-21-Autonomous-Mileage-Reports-CSV-driverless.csv", 66),
            (M21, 5),
            (M22, 10),
        ]
    )


@pytest.mark.raw
def test_annual_total_discrepancies_recorded(av, notes):
    d = notes.filter(
        pl.col("note").str.starts_with("ANNUAL TOTAL") & pl.col("note").str.contains("differs")
    )
    assert d.height == 286  # any difference beyond 0.005 mi
    substantive = d.filter(pl.col("note").str.contains("substantive"))
    assert substantive.height == 2  # Zoox 2021 (+1,082) and Woven Planet (-49)
    assert set(substantive["raw_value"]) == {"7749", "991"}
    zoox = av.filter((pl.col("company") == "Zoox") & (pl.col("report_year") == 2021))
    assert zoox["autonomous_miles"][0] == pytest.approx(154_043.0)
    assert zoox["reported_annual_total"][0] == pytest.approx(155_125.0)


@pytest.mark.raw
def test_duplicate_vins_kept_and_flagged(av, notes):
    dup = notes.filter(pl.col("note").str.contains("with different data"))
    assert dup.height == 2
    cruise = dup.filter(pl.col("raw_value") == "5G21A6P0XL4100045")["note"][0]
    argo = dup.filter(pl.col("raw_value") == "3FA6P0MU6KR100163")["note"][0]
    assert "complementary" in cruise and "overlapping" in argo
    # both rows kept: Cruise 2021 has 138 rows but 137 distinct vehicles
    c21 = av.filter(
        (pl.col("company") == "Cruise")
        & (pl.col("report_year") == 2021)
        & (pl.col("permit_type") == "safety_driver")
    )
    assert c21["n_vehicles"][0] == 137


@pytest.mark.raw
def test_missing_and_partial_years(av, notes):
    ry2020 = av.filter(pl.col("report_year") == 2020)
    # no zero rows for the missing year: only the months visible in the 23-month files
    assert sorted(
        ry2020.select("company", "permit_type", "autonomous_miles", "disengagements").rows()
    ) == [
        ("Inceptio", "safety_driver", 39.0, 0),
        ("Nuro", "driverless", pytest.approx(9.38), 0),
        ("Uber ATG", "safety_driver", 14.0, 31),
    ]
    assert ry2020["partial_year"].all()
    ry2023 = av.filter(pl.col("report_year") == 2023)
    assert ry2023["partial_year"].all()
    assert _one(av, "Pony.ai", 2023) == (51_232.0, 3)
    assert _one(av, "Vueron", 2023) == (264.0, 1)
    assert not av.filter(pl.col("report_year").is_in([2015, 2016, 2017, 2018, 2019, 2021, 2022]))[
        "partial_year"
    ].any()
    assert notes.filter(pl.col("note").str.starts_with("RY2020: missing upstream")).height == 1


@pytest.mark.raw
def test_23_month_split_by_event_dates(raw_dir, av, notes):
    # mixed date formats (M/D/YYYY, YYYY-MM-DD hh:mm:ss) in one file
    ev = ca_dmv_av.read_events(raw_dir, E2122, Notes(SRC))
    assert ev == {"Bosch": {2021: 2, 2022: 139}, "Woven Planet": {2022: 63}}
    assert _one(av, "Bosch", 2021) == pytest.approx((12.0, 2))
    # non-UTF-8 events file: decoded as cp1252, recorded
    enc = notes.filter(pl.col("file") == E2223)
    assert (
        enc.height == 1
        and "decoded as cp1252" in enc["note"][0]
        and enc["raw_value"][0] == "b'\\x93'"
    )
    assert _one(av, "Vueron", 2022) == (1_880.0, 4)


@pytest.mark.raw
def test_companies_and_nations(av):
    assert av["nation"].is_in(list(nations.known_codes())).all()
    tags = {
        r[0]: (r[1], r[2]) for r in av.select("company", "nation", "nation_certain").unique().rows()
    }
    assert tags["Waymo"] == ("USA", True)
    assert tags["Pony.ai"] == ("CHN", False)
    assert tags["Baidu Apollo"] == ("CHN", True)
    assert tags["Delphi"] == ("GBR", False)
    assert tags["aiMotive"] == ("HUN", True)
    assert tags["Vueron"] == ("KOR", True)


def test_company_table_is_consistent():
    table = ca_dmv_av.companies()
    # every raw spelling of notes A1 maps where it says
    assert table["WEIRDE"].name == "WeRide"
    assert table["NIVADIA"].name == "NVIDIA"
    assert table["CARONE (UDELV)"].name == "Udelv"
    assert table["GM CRUISE"].name == table["CRUISE LLC"].name == "Cruise"
    assert table["WOVEN PLANET NORTH AMERICA, INC."].name != table["TOYOTA"].name
    assert ca_dmv_av.company_of("Zoox, Inc", file="f", row=2, column="Manufacturer").name == "Zoox"
    assert len({c.name for c in table.values()}) == 55


def test_report_year():
    assert ca_dmv_av.report_year(2014, 9) == 2015
    assert ca_dmv_av.report_year(2014, 12) == 2015
    assert ca_dmv_av.report_year(2015, 11) == 2015
    assert ca_dmv_av.report_year(2015, 12) == 2016
    assert ca_dmv_av.report_year(2019, 12) == 2020
    with pytest.raises(ValueError):
        ca_dmv_av.report_year(2014, 8)


# ------------------------------------------------------------------------------------------------
# Synthetic files in the upstream layouts

HEAD12 = (
    "Manufacturer,Permit Number,VIN NUMBER,Annual Total of Disengagements,"
    + ",".join(
        [
            "DEC 2020",
            "JAN 2021",
            "FEB 2021",
            "MAR 2021",
            "APR 2021",
            "MAY 2021",
            "JUN 2021",
            "JULY 2021",
            "AUG 2021",
            "SEP 2021",
            "OCT 2021",
            "NOV 2021",
        ]
    )
    + ",ANNUAL TOTAL,,,,,\n"
)
MONTHS23 = [
    f"{m} 2020"
    for m in ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JULY", "AUG", "SEP", "OCT", "NOV", "DEC")
] + [
    f"{m} 2021"
    for m in ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JULY", "AUG", "SEP", "OCT", "NOV")
]
HEAD23 = (
    "Manufacturer,Permit Number,VIN NUMBER,Annual Total of Disengagements,"
    + ",".join(MONTHS23)
    + ",ANNUAL TOTAL\n"
)
EVENTS_HEAD = (
    'Manufacturer,Permit Number,DATE,VIN NUMBER,"VEHICLE IS CAPABLE OF OPERATING WITHOUT A DRIVER\n(Yes or No)",'
    '"DRIVER PRESENT\n(Yes or No)",DESCRIPTION OF FACTS CAUSING DISENGAGEMENT\n'
)


def _write(root: Path, rel: str, text: str | bytes) -> None:
    p = root / SRC / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")


def _workbook(root: Path, rows: list[list], *, cached: dict[str, str] | None = None) -> None:
    """A COMBINED_SUMMARY workbook; ``cached`` {cell: value} injects cached formula values."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "README"
    ws2 = wb.create_sheet(ca_dmv_av.SHEET)
    ws2.append(list(ca_dmv_av.XLSX_COLUMNS))
    for r in rows:
        ws2.append(r)
    for row in ws2.iter_rows(min_row=2, min_col=2, max_col=2):
        if not isinstance(row[0].value, int | float):  # numbers stay raw Excel serials
            row[0].number_format = "mmm-yy"
    path = root / SRC / ca_dmv_av.XLSX
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    if cached:
        tmp = path.with_suffix(".tmp")
        with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                if item.filename == "xl/worksheets/sheet2.xml":
                    xml = data.decode()
                    for cell, value in cached.items():
                        start = xml.index(f'<c r="{cell}"')
                        end = xml.index("</c>", start)
                        xml = (
                            xml[:start]
                            + xml[start:end].replace("<v />", f"<v>{value}</v>")
                            + xml[end:]
                        )
                    data = xml.encode()
                zout.writestr(item, data)
        shutil.move(tmp, path)


def _vehicle(maker: str, vin: str, dis: int, months: list, total) -> str:
    cells = [
        f'"{maker}"' if "," in maker else maker,
        "AVT001",
        vin,
        str(dis),
        *[str(m) for m in months],
        str(total),
    ]
    return ",".join(cells)


def test_text_in_monthly_miles_refused(tmp_path):
    _write(
        tmp_path,
        M21,
        HEAD12 + _vehicle("WAYMO LLC", "VIN1", 0, [1] * 5 + ["abc"] + [1] * 6, 12) + ",,,,,\n",
    )
    with pytest.raises(DataError) as e:
        ca_dmv_av.read_mileage(tmp_path, M21, Notes(SRC))
    assert (e.value.file, e.value.row, e.value.column) == (M21, 2, "MAY 2021")
    assert "abc" in e.value.problem


def test_unknown_manufacturer_refused(tmp_path):
    _write(
        tmp_path,
        M21,
        HEAD12
        + _vehicle("WAYMO LLC", "V1", 0, [1] * 12, 12)
        + ",,,,,\n"
        + _vehicle("ACME ROBOTAXI", "V2", 0, [1] * 12, 12)
        + ",,,,,\n",
    )
    with pytest.raises(DataError, match="unknown manufacturer 'ACME ROBOTAXI'") as e:
        ca_dmv_av.read_mileage(tmp_path, M21, Notes(SRC))
    assert (e.value.row, e.value.column) == (3, "Manufacturer")


def test_annual_total_disagreement_recorded_not_used(tmp_path):
    _workbook(tmp_path, [["GOOGLE (WAYMO)", dt.datetime(2019, 1, 1), 10, 1, 0]])
    _write(
        tmp_path,
        M21,
        HEAD12
        + _vehicle("WAYMO LLC", "V1", 2, [10, 5, 5, 0, 0, 0, 0, 0, 0, 0, 0, 70], '"1,000.50"')
        + ",,,,,\n"
        + ",,,,,,,,,,,,,,,,,,,,,\n"  # a blank row
        + _vehicle(
            "WAYMO LLC", "V2", 1, ['"1,200.25"', "", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "1200.25"
        )
        + ",,,,,\n",
    )
    out = ca_dmv_av.read(tmp_path)
    row = out["av_testing"].filter(pl.col("report_year") == 2021).row(0, named=True)
    assert row["autonomous_miles"] == pytest.approx(90 + 1200.25)  # monthly sums, not ANNUAL TOTAL
    assert row["reported_annual_total"] == pytest.approx(1000.5 + 1200.25)
    assert row["disengagements"] == 3 and row["n_vehicles"] == 2
    notes = out["data_notes"]
    diff = notes.filter(pl.col("note").str.contains("differs from the monthly sum"))
    assert diff.rows() == [
        (
            SRC,
            M21,
            2,
            "ANNUAL TOTAL",
            "1,000.50",
            "ANNUAL TOTAL 1000.50 differs from the monthly sum 90.00 by +910.50 mi (substantive); the monthly sum is used",
        )
    ]
    assert (
        notes.filter((pl.col("row") == 4) & (pl.col("column") == "JAN 2021"))["note"][0]
        == "empty monthly miles cell read as 0 miles"
    )
    assert (
        notes.filter(pl.col("raw_value") == "1,200.25")["note"][0] == "thousands separators removed"
    )


def test_formula_without_cached_value_refused(tmp_path):
    _workbook(
        tmp_path,
        [
            ["BOSCH", dt.datetime(2016, 1, 1), 5, 1, 0],
            ["BOSCH", dt.datetime(2016, 2, 1), "=34.6+46.6", 3, 1],
        ],
    )
    with pytest.raises(DataError, match=r"COMBINED_SUMMARY!C3 has no cached value") as e:
        ca_dmv_av.read_workbook(tmp_path, Notes(SRC))
    assert (e.value.file, e.value.row, e.value.column) == (ca_dmv_av.XLSX, 3, "MILES_DRIVEN")


def test_formula_cached_value_read_and_checked(tmp_path):
    rows = [
        ["BOSCH", dt.datetime(2016, 1, 1), "=34.6+46.6", 3, 1],
        ["DELPHI", dt.datetime(2015, 3, 1), "=129+97+211+93", 0, 0],
    ]
    _workbook(tmp_path, rows, cached={"C2": "81.2", "C3": "530"})
    n = Notes(SRC)
    got = ca_dmv_av.read_workbook(tmp_path, n)
    assert [
        (r["company"].name, r["report_year"], r["miles"], r["disengagements"]) for r in got
    ] == [
        ("Bosch", 2016, pytest.approx(81.2), 4),
        ("Delphi", 2015, 530.0, 0),
    ]
    assert [x["note"] for x in n.rows] == [
        "formula cell COMBINED_SUMMARY!C2 read as its cached value 81.2",
        "formula cell COMBINED_SUMMARY!C3 read as its cached value 530.0",
    ]
    # a cached value that is not the formula's sum is refused
    _workbook(tmp_path, rows[:1], cached={"C2": "99"})
    with pytest.raises(DataError, match="is not its sum"):
        ca_dmv_av.read_workbook(tmp_path, Notes(SRC))


def test_workbook_month_as_excel_serial_and_blank_rows(tmp_path):
    # 42370 = 2016-01-01 as a raw Excel serial in a General-format cell; a blank row in between
    _workbook(tmp_path, [["BOSCH", 42370, 5, 1, 0], [None] * 5, ["SF MOTOR", 43435, 7.5, 0, 2]])
    n = Notes(SRC)
    got = ca_dmv_av.read_workbook(tmp_path, n)
    assert [
        (r["company"].name, r["year"], r["month"], r["report_year"], r["_row"]) for r in got
    ] == [
        ("Bosch", 2016, 1, 2016, 2),
        ("SF Motors", 2018, 12, 2019, 4),
    ]
    assert [x["note"] for x in n.rows] == ["1 blank row(s) in sheet COMBINED_SUMMARY skipped"]


def test_workbook_month_outside_coverage(tmp_path):
    _workbook(tmp_path, [["GOOGLE (WAYMO)", dt.datetime(2014, 8, 1), 5, 0, 0]])
    with pytest.raises(DataError, match="before the first reporting period") as e:
        ca_dmv_av.read_workbook(tmp_path, Notes(SRC))
    assert (e.value.row, e.value.column) == (2, "MONTH")


def _span_tree(root: Path, events: bytes | str | None, *, dis: int = 3) -> str:
    rel = "data/Mileage/2020-21-Autonomous-Mileage-Reports-CSV-first-time-filers.csv"
    _workbook(root, [["GOOGLE (WAYMO)", dt.datetime(2019, 1, 1), 10, 1, 0]])
    _write(
        root, M21, HEAD12 + _vehicle("WAYMO LLC", "V1", 0, [1] * 12, 12) + ",,,,,\n"
    )  # covers RY2021
    months = [0] * 23
    months[2], months[14] = 14, 20  # MAR 2020 (RY2020), MAR 2021 (RY2021)
    _write(
        root,
        rel,
        HEAD23
        + _vehicle("UATC, LLC", "U1", dis, months, 34)
        + "\n"
        + _vehicle("INCEPTIO TECHNOLOGY", "I1", 0, [0] * 23, 0)
        + "\n",
    )
    if events is not None:
        _write(
            root,
            "data/Disengagements/2020-21-Autonomous-Vehicle-Disengagement-Reports-CSV-first-time-filers.csv",
            events,
        )
    return rel


def test_23_month_file_split_and_cp1252_events(tmp_path):
    events = (
        EVENTS_HEAD
        + '"UATC, LLC",AVT026,3/10/2020,U1,No,Yes,"the driver said \u201cstop\u201d"\n'
        + '"UATC, LLC",AVT026,2020-12-01 10:00:00,U1,No,Yes,x\n'
        + '"UATC, LLC",AVT026,2021-05-02,U1,No,Yes,x\n'
        + ",,,,,,\n"
    ).encode("cp1252")
    rel = _span_tree(tmp_path, events)
    out = ca_dmv_av.read(tmp_path)
    av = out["av_testing"].filter(pl.col("source_file") == rel)
    assert av.select(
        "company", "report_year", "autonomous_miles", "disengagements", "partial_year"
    ).rows() == [
        ("Inceptio", 2021, 0.0, 0, False),  # full-RY part of a first-time filer: a reported zero
        ("Uber ATG", 2020, 14.0, 1, True),  # RY2020: no annual report covers it
        ("Uber ATG", 2021, 20.0, 2, False),  # Dec 2020 event belongs to RY2021
    ]
    assert av["reported_annual_total"].is_null().all()
    notes = out["data_notes"]
    assert notes.filter(pl.col("note").str.contains("decoded as cp1252")).height == 1
    # no zero row for Inceptio in the missing RY2020
    assert (
        notes.filter(
            pl.col("note").str.starts_with("Inceptio: no miles and no disengagements in the RY2020")
        ).height
        == 1
    )


def test_events_not_decodable_refused(tmp_path):
    _span_tree(
        tmp_path,
        (EVENTS_HEAD + '"UATC, LLC",AVT026,3/10/2020,U1,No,Yes,bad \x81 byte\n').encode("latin-1"),
    )
    with pytest.raises(DataError, match="neither UTF-8 nor cp1252") as e:
        ca_dmv_av.read(tmp_path)
    assert e.value.row == 4


@pytest.mark.parametrize("bad", ["10.03.2020", "2020/03/10", "3/10/20", "13/40/2020", ""])
def test_event_date_unparseable_refused(tmp_path, bad):
    rel = "data/Disengagements/2020-21-Autonomous-Vehicle-Disengagement-Reports-CSV-first-time-filers.csv"
    _span_tree(
        tmp_path,
        EVENTS_HEAD
        + f'"UATC, LLC",AVT026,3/10/2020,U1,No,Yes,x\n"UATC, LLC",AVT026,{bad},U1,No,Yes,x\n',
    )
    with pytest.raises(DataError, match="unparseable date") as e:
        ca_dmv_av.read(tmp_path)
    assert (e.value.file, e.value.row, e.value.column) == (rel, 5, "DATE")


def test_event_count_must_match_23_month_total(tmp_path):
    _span_tree(tmp_path, EVENTS_HEAD + '"UATC, LLC",AVT026,3/10/2020,U1,No,Yes,x\n', dis=3)
    with pytest.raises(
        DataError, match="3 disengagements reported over 23 months but 1 dated events"
    ):
        ca_dmv_av.read(tmp_path)


def test_missing_events_file_refused_when_needed(tmp_path):
    _span_tree(tmp_path, None, dis=3)
    with pytest.raises(DataError, match=r"events file .* is missing"):
        ca_dmv_av.read(tmp_path)


def test_unrecognised_mileage_file_refused(tmp_path):
    _workbook(tmp_path, [["GOOGLE (WAYMO)", dt.datetime(2019, 1, 1), 10, 1, 0]])
    _write(tmp_path, "data/Mileage/mileage-copy.csv", HEAD12)
    with pytest.raises(DataError, match="unrecognised file name"):
        ca_dmv_av.read(tmp_path)
