"""The race report's content: sections per industry, the race table as given, plain 'not yet
computed' where a race table is absent, no-data industries, data gaps, escaping."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest
import report_tables as rt

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.race.spec import SPEC_FILE, load_spec
from learnrace_pipeline.lib.report import html as h
from learnrace_pipeline.lib.report.race_inputs import RACE_TABLES, read_inputs
from learnrace_pipeline.lib.report.race_report import build_report, data_gaps, write_report

WHEN = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def spec():
    return load_spec()


@pytest.fixture(scope="module")
def full(tmp_path_factory, spec):
    db = rt.write_warehouse(tmp_path_factory.mktemp("full") / "w.duckdb", spec)
    inputs = read_inputs(db, spec)
    return inputs, build_report(inputs, generated=WHEN)


@pytest.fixture(scope="module")
def bare(tmp_path_factory, spec):
    db = rt.write_warehouse(tmp_path_factory.mktemp("bare") / "w.duckdb", spec, race=False)
    inputs = read_inputs(db, spec)
    return inputs, build_report(inputs, generated=WHEN)


def sections(page: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', page, flags=re.S))


def table_rows(page: str, table_id: str) -> list[list[str]]:
    m = re.search(rf'<table id="{table_id}">(.*?)</table>', page, flags=re.S)
    assert m is not None, table_id
    body = m.group(1).split("<tbody>")[1]
    return [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", body)]


def test_every_section_is_present(full, spec):
    _, page = full
    want = ["race", *(f"industry-{i.id}" for i in spec.industries), "scenarios", "hindcast",
            "data-gaps"]  # fmt: skip
    assert list(sections(page)) == want


def test_race_table_shows_the_given_rows(full):
    inputs, page = full
    race = inputs.get("race.race")
    rows = table_rows(page, "race-table")
    assert len(rows) == race.height
    for cells, r in zip(rows, race.iter_rows(named=True), strict=True):
        assert cells[0] == h.esc(r["industry_name"])
        assert cells[1] == h.fmt(r["nation"])
        assert cells[4] == h.fmt(r["closing_median"])
        if r["closing_q10"] is None or r["closing_q90"] is None:
            assert cells[5] == h.MISSING
        else:
            assert cells[5] == f"{h.fmt(r['closing_q10'])} to {h.fmt(r['closing_q90'])}"
        assert cells[6] == h.fmt(r["p_closed_by_horizon"])
        assert cells[7] == h.fmt(r["p_first"])
        if r["status"] == "no_data":
            assert cells[3] == "no_data" and cells[-1] == h.esc(r["missing"])
    closed = [c for c in rows if c[8].startswith("yes")]
    assert [(c[1], c[8]) for c in closed] == [
        (n, f"yes, {y}") for (_, n), y in rt.ALREADY_CLOSED.items()
    ]


def test_industry_sections_hold_their_own_rows(full, spec):
    inputs, page = full
    secs = sections(page)
    pairwise = inputs.get("race.pairwise")
    for ind in spec.industries:
        sec = secs[f"industry-{ind.id}"]
        if ind.status == "no_data":
            assert "No data." in sec and h.esc(ind.missing) in sec
            assert "<table" not in sec and "<img" not in sec
            continue
        assert "the warehouse has no table race." not in sec
        for r in pairwise.filter(pl.col("industry") == ind.id).iter_rows(named=True):
            assert f"<td>{r['nation_a']}</td><td>{r['nation_b']}</td>" in sec
            assert f">{h.fmt(r['p_a_first'])}</td>" in sec
        others = pairwise.filter(pl.col("industry") != ind.id)["nation_b"].unique().to_list()
        mine = {e.code for e in ind.nations}
        for code in set(others) - mine:
            assert f"<td>{code}</td>" not in sec.split("Who closes first")[1].split("<h3")[1]
        assert sec.count("<img") >= 2  # closing years and at least one observed metric


def test_learning_rates_of_the_taxonomy(full, spec):
    inputs, page = full
    secs = sections(page)
    lr = inputs.get("calibration.learning_rates")
    solar = lr.filter((pl.col("level") == "industry") & (pl.col("name") == "solar")).row(
        0, named=True
    )
    assert f">{h.fmt(solar['lr_mean'])}</td>" in secs["industry-solar_pv"]
    robots = secs["industry-industrial_robots"]
    assert "no experience curve is measured here" in robots


def test_without_race_tables_every_race_part_says_not_yet_computed(bare, spec):
    inputs, page = bare
    assert not any(k.startswith("race.") for k in inputs.tables)
    secs = sections(page)
    assert 'id="race-table"' not in page and 'id="race-competitors"' in page
    assert "The race table: not yet computed." in secs["race"]
    for ind in spec.industries:
        if ind.status == "no_data":
            continue
        sec = secs[f"industry-{ind.id}"]
        for what in ("Closing years", "Who closes first (pairwise)",
                     "Attribution of the cost decline"):  # fmt: skip
            assert f"{what}: not yet computed." in sec
        assert "closing year (median)" not in sec
    assert "Scenario comparison: not yet computed." in secs["scenarios"]
    assert "Race hindcast: not yet computed." in secs["hindcast"]
    for t in RACE_TABLES:
        assert f"race.{t}" in page  # the absent table is named
    # the cost hindcast calibration is there: it does not depend on the race
    grp = inputs.get("evaluation.scores_by_horizon_group").sort("model", "horizon_group")
    rows = table_rows(page, "hindcast-calibration")
    assert [r[:2] for r in rows] == [list(r) for r in grp.select("model", "horizon_group").rows()]
    assert [r[4] for r in rows] == [h.fmt(v) for v in grp["coverage50"]]


def test_data_gaps_name_every_declared_gap(full, spec):
    gaps = data_gaps(spec)
    no_data = [i for i in spec.industries if i.status == "no_data"]
    nation_gaps = sum(len(e.missing) + len(e.proxy) for i in spec.industries for e in i.nations)
    role_gaps = sum(
        1 for i in spec.industries for r in ("capability", "volume", "cost")
        if getattr(i, r) is not None and not hasattr(getattr(i, r), "threshold")
    )  # fmt: skip
    assert gaps.height == len(no_data) + nation_gaps + role_gaps
    _, page = full
    sec = sections(page)["data-gaps"]
    for i in no_data:
        assert f"no data: {h.esc(i.missing)}" in sec


def test_text_from_the_spec_is_escaped(tmp_path, spec):
    text = SPEC_FILE.read_text().replace("name: Solar PV", "name: Solar <b>PV</b> & co", 1)
    path = tmp_path / "race.yaml"
    path.write_text(text)
    odd = load_spec(path)
    db = rt.write_warehouse(tmp_path / "w.duckdb", odd, race=False)
    page = build_report(read_inputs(db, odd), generated=WHEN)
    assert "Solar &lt;b&gt;PV&lt;/b&gt; &amp; co" in page and "<b>PV</b>" not in page


def test_absent_warehouse_is_a_clear_error(tmp_path, spec):
    with pytest.raises(DataError, match="warehouse file not found") as e:
        read_inputs(tmp_path / "none.duckdb", spec)
    assert e.value.file == str(tmp_path / "none.duckdb")


def test_write_report_is_atomic(tmp_path, spec):
    db = rt.write_warehouse(tmp_path / "w.duckdb", spec, race=False)
    out = write_report(db, tmp_path / "r.html", spec)
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(DataError, match="output folder does not exist"):
        write_report(db, tmp_path / "missing" / "r.html", spec)
    assert not (tmp_path / "missing").exists()
