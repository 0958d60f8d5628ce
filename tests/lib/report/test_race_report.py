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
            "ledger",
            "data-gaps"]  # fmt: skip
    assert list(sections(page)) == want


def table_dicts(page: str, table_id: str) -> list[dict[str, str]]:
    m = re.search(rf'<table id="{table_id}">.*?<thead>(.*?)</thead>', page, flags=re.S)
    assert m is not None, table_id
    head = re.findall(r"<th>(.*?)</th>", m.group(1))
    return [dict(zip(head, r, strict=True)) for r in table_rows(page, table_id)]


def test_race_table_shows_the_given_rows(full):
    inputs, page = full
    race = inputs.get("race.race")
    rows = table_dicts(page, "race-table")
    assert len(rows) == race.height
    seen_after = 0
    for c, r in zip(rows, race.iter_rows(named=True), strict=True):
        assert c["industry"] == h.esc(r["industry_name"])
        assert c["nation"] == h.fmt(r["nation"])
        assert c["P(closed by horizon)"] == h.fmt(r["p_closed_by_horizon"])
        assert c["P(first)"] == h.fmt(r["p_first"])
        assert c["leading strategy"] == h.fmt(r["leading_strategy"])
        note = r["note"] or ""  # the main table drops why a role is unmeasured...
        kept = [x for x in note.split("; ") if " unmeasured: " not in x]
        dropped = len(kept) < len(note.split("; "))
        want = "; ".join(kept + ["why: see Data gaps"] * dropped) if note else None
        assert c["note"] == h.esc(h.fmt(want))
        if dropped:  # ...which the data-gaps section gives in full
            assert f"<td>{h.esc(note)}</td>" in sections(page)["data-gaps"]
        if r["status"] != "data":  # no number for an industry with no data
            assert c["closing year (median)"] == c["80% interval"] == h.MISSING
            assert c["P(first)"] == c["already closed"] == h.MISSING
            continue
        after = f"after {r['horizon']}"
        if r["closing_q10"] is None and r["closing_q90"] is None:
            assert c["80% interval"] == after  # both bounds past the horizon: said once
            lo = hi = after
        elif r["closing_q10"] == r["closing_q90"]:
            assert c["80% interval"] == str(r["closing_q10"])  # one year: said once
            lo = hi = str(r["closing_q10"])
        else:
            lo, hi = c["80% interval"].split(" to ")
        for q, cell in (("closing_median", c["closing year (median)"]), ("closing_q10", lo),
                        ("closing_q90", hi)):  # fmt: skip
            # a quantile past the horizon has no year: the page says so, never a number
            want = str(r[q]) if r[q] is not None else after
            assert cell == want
            seen_after += r[q] is None
        closed = f"yes, {r['closed_year']}" if r["already_closed"] else "no"
        assert c["already closed"] == (
            closed if r["p_closed_by_horizon"] is not None else h.MISSING
        )
    assert seen_after > 0  # the draws put some quantiles past the horizon
    closed = [(c["nation"], c["already closed"]) for c in rows if c["already closed"] != "no"]
    closed = [x for x in closed if x[1] != h.MISSING]
    assert closed == [(n, f"yes, {y}") for (_, n), y in rt.ALREADY_CLOSED.items()]


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
        lead = inputs.get("race.race").filter(pl.col("industry") == ind.id).row(0, named=True)
        assert (
            f"P(no nation closes the loop by {ind.horizon}) = {h.fmt(lead['p_none_by_horizon'])}"
            in sec
        )


def test_scenario_comparison_per_scenario(full, spec):
    """Per scenario, a row for each nation with data that moves (median or a probability by
    0.001 or more), holding its base and scenario medians and the shifts of race.scenarios;
    the nations that do not move are counted."""
    inputs, page = full
    sc, race = inputs.get("race.scenarios"), inputs.get("race.race")
    secs = sections(page)
    n_moved = 0
    for s in spec.scenarios:
        rows = table_rows(page, f"scenario-table-{s.name}")
        want, n_same = [], 0
        for ind in spec.industries:
            if ind.status != "data":
                continue
            for e in ind.nations:
                key = (pl.col("industry") == ind.id) & (pl.col("nation") == e.code)
                r = sc.filter(key & (pl.col("scenario") == s.name)).row(0, named=True)
                b = race.filter(key).row(0, named=True)
                moved = (r["median_shift"] or 0) != 0 or r["median_direction"] in (
                    "earlier", "later"
                ) or max(abs(r["p_closed_shift"]), abs(r["p_first_shift"])) >= 1e-3  # fmt: skip
                if not moved:
                    n_same += 1
                    continue
                after = f"after {ind.horizon}"
                d = r["median_shift"]
                want.append([
                    h.esc(ind.name), e.code,
                    str(b["closing_median"]) if b["closing_median"] is not None else after,
                    str(r["closing_median"]) if r["closing_median"] is not None else after,
                    (f"{d:+d} y" if d else "0") if d is not None else (
                        f"{r['median_direction']} (past {ind.horizon})"
                        if r["median_direction"] == "later"
                        else f"earlier (was past {ind.horizon})"
                        if r["median_direction"] == "earlier" else h.MISSING
                    ),
                    h.fmt(b["p_closed_by_horizon"]),
                    ("+" if r["p_closed_shift"] > 0 else "") + h.fmt(r["p_closed_shift"]),
                    h.fmt(b["p_first"]),
                    ("+" if r["p_first_shift"] > 0 else "") + h.fmt(r["p_first_shift"]),
                ])  # fmt: skip
        assert rows == want
        n_moved += len(want)
        if n_same:
            assert f"{n_same} other nation" in secs["scenarios"]
    assert n_moved > 0


def test_race_hindcast_coverage(full, spec):
    inputs, page = full
    cov = inputs.get("evaluation.race_hindcast_coverage")
    rows = table_rows(page, "race-hindcast-table")
    assert [r[:2] for r in rows] == [list(r) for r in cov.select("role", "horizon_group").rows()]
    assert [r[3] for r in rows] == [h.fmt(v) for v in cov["coverage_50"]]
    fc = inputs.get("evaluation.race_hindcast")
    secs = sections(page)
    for ind in spec.industries:
        if ind.status != "data":
            continue
        mine = fc.filter(pl.col("industry") == ind.id)
        sec = secs[f"industry-{ind.id}"].split("<h3>Race hindcast</h3>")[1]
        for role in ("capability", "volume"):
            r = mine.filter(pl.col("role") == role)
            want = [role, "test", str(r.height), h.fmt(r["inside50"].mean()),
                    h.fmt(r["inside90"].mean())]  # fmt: skip
            assert want in [c for c in table_rows_any(sec)]


def table_rows_any(fragment: str) -> list[list[str]]:
    return [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", fragment)]


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
    for tables in RACE_TABLES.values():
        assert all(t in page for t in tables)  # the absent tables are named
    assert "Forecast ledger: not yet computed." in secs["ledger"]
    assert (
        "Not yet computed: race, pairwise, attribution, scenarios, race hindcast, ledger." in page
    )
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
    race = full[0].get("race.race")
    unmeasured = race.filter(
        pl.col("unmeasured_roles").is_not_null() | (pl.col("status") != "data")
    )
    assert unmeasured.height > len(no_data)
    assert len(table_rows(page, "race-gaps")) == unmeasured.height


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


def test_ledger_vintages_newest_first(full):
    """race.ledger: one row per vintage, newest first, with its latest scores."""
    inputs, page = full
    ledger = inputs.get("race.ledger")
    rows = table_dicts(page, "ledger-table")
    assert [r["scenario"] for r in rows] == ["no_spillover", "base"]
    assert rows[0]["created (UTC)"] == "2026-01-03 03:04"
    base = ledger.filter(pl.col("scenario") == "base").row(0, named=True)
    assert rows[1]["vintage"] == base["vintage_id"][:8]
    assert (rows[1]["scored"], rows[1]["inside 50%"], rows[1]["inside 90%"]) == (
        "4",
        "0.25",
        "0.75",
    )
    assert rows[1]["pinball"] == h.fmt(base["pinball"])
    assert rows[0]["scored"] == "0" and rows[0]["inside 90%"] == h.MISSING


def test_attribution_median_and_interval(full, spec):
    """race.attribution per nation: each share and the decline as "median (q05-q95)"."""
    inputs, page = full
    att = inputs.get("race.attribution")
    secs = sections(page)
    ind = next(i for i in spec.industries if i.status == "data")
    sec = secs[f"industry-{ind.id}"].split("Attribution of the cost decline")[1]
    table = [c for c in table_rows_any(sec.split("</table>")[0]) if c]  # header: no <td>
    mine = att.filter(pl.col("industry") == ind.id)
    assert len(table) == mine.height
    for cells, r in zip(table, mine.iter_rows(named=True), strict=True):
        assert cells[0] == r["nation"]
        assert cells[2] == _median_interval(r, "decline_log")
        assert cells[4:7] == [_median_interval(r, f"share_{k}") for k in rt.ATTRIBUTION_PARTS]


def _median_interval(r: dict, stem: str) -> str:
    q = [h.fmt(r[f"{stem}_{k}"]) for k in ("q05", "q50", "q95")]
    return f"{q[1]} ({q[0]}\u2013{q[2]})"


def test_parity_threshold_reads_as_a_cost(spec):
    """A parity against a level names the level and the metric's unit; against the leader,
    the tolerance above the leader's cost."""
    from learnrace_pipeline.lib.report.race_parts import threshold_text

    costs = [i.cost for i in spec.industries if getattr(i.cost, "threshold", None) is not None]
    level = next(m for m in costs if m.threshold.reference == "level")
    assert threshold_text(level) == f"cost at most {h.fmt(level.threshold.level)} {level.unit}"
    leader = next(m for m in costs if m.threshold.reference == "leader")
    assert threshold_text(leader) == (
        f"cost at most {leader.threshold.value:.0%} above the leader's cost"
    )


def test_tied_leaders_each_with_their_strategy(full):
    """A tie ("A / B" in race.race) names each nation with its own archetype."""
    from learnrace_pipeline.lib.report.race_industry import _leaders_text

    inputs, _ = full
    rows = inputs.get("race.race").filter(pl.col("status") == "data").head(2)
    (a, b), (sa, sb) = rows["nation"].to_list(), rows["archetype"].to_list()
    text = _leaders_text(rows, f"{a} / {b}", "x / y")
    assert text == f"{a} ({sa.replace('_', ' ')}) and {b} ({sb.replace('_', ' ')}), tied"
    assert _leaders_text(rows, a, "x") == f"{a} ({sa.replace('_', ' ')})"


def test_fit_tables_collapse_their_intervals():
    """A fit table's x, x_q05, x_q95 become one "x (q05-q95)" column; a column NaN in every
    row is dropped; the interval kind becomes the caption."""
    import numpy as np

    from learnrace_pipeline.lib.report.race_fits import collapse_quantiles

    rng = np.random.default_rng(3)
    draws = rng.normal(0.3, 0.1, (2, 400))
    q05, q95 = np.quantile(draws, [0.05, 0.95], axis=1)
    df = pl.DataFrame({
        "nation": ["USA", "CHN"], "growth": draws.mean(axis=1), "growth_q05": q05,
        "growth_q95": q95, "ceiling": [np.nan, np.nan], "ci_kind": ["eti"] * 2,
        "ci_prob": [0.9] * 2,
    })  # fmt: skip
    shown, caption = collapse_quantiles(df)
    assert shown.columns == ["nation", "growth"]
    assert shown["growth"].to_list() == [
        f"{h.fmt(m)} ({h.fmt(a)}\u2013{h.fmt(b)})"
        for m, a, b in zip(draws.mean(axis=1), q05, q95, strict=True)
    ]
    assert caption is not None and caption.startswith("Intervals: eti 0.9;")
