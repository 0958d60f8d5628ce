"""The race specification: the shipped file against the shipped snapshot, and bad input."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.race.spec import (
    ARCHETYPES,
    REQUIRED_NATIONS,
    SPEC_FILE,
    Metric,
    MissingMetric,
    RaceSpec,
    SpecError,
    check_data,
    load_spec,
    parse_spec,
    select_rows,
    snapshot_tables,
)

DATA_INDUSTRIES = (
    "solar_pv",
    "batteries_evs",
    "industrial_robots",
    "autonomous_vehicles",
    "ai_foundation_models",
    "semiconductors",
)
NO_DATA_INDUSTRIES = ("aerospace_launch", "smartphones", "industrial_5g", "humanoid_robots")


@pytest.fixture(scope="module")
def tables():
    return snapshot_tables()


@pytest.fixture(scope="module")
def shipped() -> RaceSpec:
    return load_spec()


@pytest.fixture
def doc() -> dict[str, Any]:
    return yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "race.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _index(document: dict[str, Any], industry_id: str) -> int:
    return next(i for i, ind in enumerate(document["industries"]) if ind["id"] == industry_id)


def _fails(path: Path, key: str, value: str, tables=None) -> DataError:
    """Loading (and, with ``tables``, checking) ``path`` raises a DataError naming the file,
    ``key`` and ``value``; nothing is written beside the file."""
    before = sorted(p.name for p in path.parent.iterdir())
    with pytest.raises(DataError) as info:
        spec = load_spec(path)
        if tables is not None:
            check_data(spec, tables)
    err = info.value
    assert err.file == str(path)
    assert isinstance(err, SpecError) and err.column == key == err.key, str(err)
    text = str(err)
    assert str(path) in text and key in text and value in text, text
    assert sorted(p.name for p in path.parent.iterdir()) == before
    return err


# ------------------------------------------------------------------------------------------
# The shipped specification
# ------------------------------------------------------------------------------------------


def test_shipped_spec_loads_and_validates_against_the_snapshot(shipped, tables):
    coverage = check_data(shipped, tables)
    assert [i.id for i in shipped.industries] == [*DATA_INDUSTRIES, *NO_DATA_INDUSTRIES]
    assert coverage.rows.height > 0
    assert {s.name for s in shipped.scenarios} == {
        "export_controls",
        "deployment_slowdown",
        "no_spillover",
        "faster_research",
    }


@pytest.mark.parametrize("industry_id", DATA_INDUSTRIES)
def test_every_industry_with_data_has_metrics_selecting_rows(shipped, tables, industry_id):
    ind = shipped.industry(industry_id)
    assert ind.status == "data"
    assert ind.horizon is not None and ind.horizon >= 2030
    codes = [e.code for e in ind.nations]
    assert all(req in codes for req in REQUIRED_NATIONS)
    assert all(e.archetype in ARCHETYPES for e in ind.nations)
    assert isinstance(ind.volume, Metric)
    assert ind.metrics(), industry_id
    coverage = check_data(shipped, tables)
    for metric in ind.metrics():
        assert select_rows(metric, tables).height > 0, (industry_id, metric.role)
        for entry in ind.nations:
            n = coverage.of(industry_id, metric.role, entry.code)
            declared = dict(entry.missing).get(metric.role)
            assert (n > 0) != (declared is not None), (industry_id, metric.role, entry.code)


def test_shipped_metric_choices(shipped):
    """The declared mappings the decision record describes."""
    robots = shipped.industry("industrial_robots")
    assert isinstance(robots.capability, MissingMetric)
    assert "no robot capability" in robots.capability.missing
    assert robots.cost is None
    solar = shipped.industry("solar_pv")
    assert solar.capability.measure == "learning_rate"
    assert dict(solar.nations[2].proxy) == {"volume": "EUROPE"}
    assert solar.cost.threshold.kind == "parity"
    batteries = shipped.industry("batteries_evs")
    assert batteries.cost.scope == "world"
    assert dict(batteries.volume.filter)["basis"] == ("ev_car_sales_of_world",)
    semis = shipped.industry("semiconductors")
    chn = next(e for e in semis.nations if e.code == "CHN")
    assert "capability" in dict(chn.missing)
    ai = shipped.industry("ai_foundation_models")
    assert ai.capability.threshold.unit == "years"


def test_no_data_industries_are_listed_with_the_missing_data_named(shipped):
    for industry_id in NO_DATA_INDUSTRIES:
        ind = shipped.industry(industry_id)
        assert ind.status == "no_data"
        assert ind.missing and ind.missing.startswith("no ")
        assert ind.capability is None and ind.volume is None and ind.cost is None
        assert ind.metrics() == ()


def test_spec_is_frozen(shipped):
    with pytest.raises(AttributeError):
        shipped.industries[0].horizon = 2040  # type: ignore[misc]


def test_round_trip_of_the_dumped_document(tmp_path, doc, tables):
    spec = load_spec(_write(tmp_path, doc))
    check_data(spec, tables)
    assert [i.id for i in spec.industries] == [i.id for i in load_spec().industries]


# ------------------------------------------------------------------------------------------
# Bad input: each names the file, the key path and the value
# ------------------------------------------------------------------------------------------


def test_yaml_that_is_not_a_mapping(tmp_path):
    path = _write(tmp_path, ["solar_pv", "smartphones"])
    _fails(path, "<document>", "'solar_pv'")


def test_scalar_document_is_not_a_mapping(tmp_path):
    path = tmp_path / "race.yaml"
    path.write_text("just text\n", encoding="utf-8")
    _fails(path, "<document>", "'just text'")


def test_yaml_syntax_error_gives_the_line(tmp_path):
    path = tmp_path / "race.yaml"
    path.write_text("version: 1\nindustries:\n  - id: [solar\n    name: x\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_spec(path)
    err = info.value
    assert err.file == str(path)
    assert err.row is not None and err.row >= 3
    assert f"line {err.row}" in str(err) and "not valid YAML" in str(err)
    assert isinstance(err, SpecError) and err.key is None


def test_unknown_nation(tmp_path, doc):
    doc["industries"][0]["nations"][0]["code"] = "XYZ"
    _fails(_write(tmp_path, doc), "industries[0].nations[0].code", "'XYZ'")


def test_aggregate_cannot_compete(tmp_path, doc):
    doc["industries"][0]["nations"][2]["code"] = "WLD"
    _fails(_write(tmp_path, doc), "industries[0].nations[2].code", "'WLD'")


def test_usa_and_china_compete_everywhere(tmp_path, doc):
    doc["industries"][3]["nations"] = [
        n for n in doc["industries"][3]["nations"] if n["code"] != "CHN"
    ]
    _fails(_write(tmp_path, doc), "industries[3].nations", "'USA'")


def test_metric_with_no_data(tmp_path, doc, tables):
    doc["industries"][0]["volume"]["filter"]["basis"] = "no_such_basis"
    err = _fails(_write(tmp_path, doc), "industries[0].volume.filter", "'no_such_basis'", tables)
    assert "no data" in err.problem


def test_metric_filter_on_an_unknown_column(tmp_path, doc):
    doc["industries"][2]["volume"]["filter"]["colour"] = "red"
    _fails(_write(tmp_path, doc), "industries[2].volume.filter.colour", "'colour'")


def test_metric_filter_value_of_the_wrong_type(tmp_path, doc):
    doc["industries"][2]["volume"]["filter"]["year"] = "2020"
    _fails(_write(tmp_path, doc), "industries[2].volume.filter.year[0]", "'2020'")


def test_undeclared_nation_gap(tmp_path, doc, tables):
    i = _index(doc, "semiconductors")
    chn = next(n for n in doc["industries"][i]["nations"] if n["code"] == "CHN")
    j = doc["industries"][i]["nations"].index(chn)
    del chn["missing"]
    _fails(
        _write(tmp_path, doc), f"industries[{i}].nations[{j}].missing.capability", "'CHN'", tables
    )


def test_declared_gap_that_has_rows(tmp_path, doc, tables):
    doc["industries"][0]["nations"][0]["missing"] = {"volume": "pretend"}
    _fails(_write(tmp_path, doc), "industries[0].nations[0].missing.volume", "'pretend'", tables)


def test_unit_that_differs_from_the_rows(tmp_path, doc, tables):
    doc["industries"][0]["cost"]["unit"] = "2020 USD/kW"
    _fails(_write(tmp_path, doc), "industries[0].cost.unit", "'2020 USD/kW'", tables)


def test_threshold_of_the_wrong_type(tmp_path, doc):
    doc["industries"][2]["volume"]["threshold"]["value"] = "a quarter"
    err = _fails(_write(tmp_path, doc), "industries[2].volume.threshold.value", "'a quarter'")
    assert "expected a number" in err.problem


def test_threshold_that_is_not_a_mapping(tmp_path, doc):
    doc["industries"][2]["volume"]["threshold"] = 0.25
    _fails(_write(tmp_path, doc), "industries[2].volume.threshold", "0.25")


def test_threshold_boolean_is_not_a_number(tmp_path, doc):
    doc["industries"][1]["capability"]["threshold"]["value"] = True
    _fails(_write(tmp_path, doc), "industries[1].capability.threshold.value", "True")


def test_threshold_kind_not_allowed_for_the_role(tmp_path, doc):
    doc["industries"][0]["volume"]["threshold"]["kind"] = "parity"
    _fails(_write(tmp_path, doc), "industries[0].volume.threshold.kind", "'parity'")


def test_share_threshold_out_of_range(tmp_path, doc):
    doc["industries"][0]["volume"]["threshold"]["value"] = 25
    _fails(_write(tmp_path, doc), "industries[0].volume.threshold.value", "25")


def test_missing_horizon(tmp_path, doc):
    del doc["industries"][1]["horizon"]
    _fails(_write(tmp_path, doc), "industries[1].horizon", "required key missing")


def test_horizon_of_the_wrong_type(tmp_path, doc):
    doc["industries"][1]["horizon"] = "2035"
    _fails(_write(tmp_path, doc), "industries[1].horizon", "'2035'")


def test_duplicate_industry(tmp_path, doc):
    doc["industries"].append(copy.deepcopy(doc["industries"][0]))
    n = len(doc["industries"]) - 1
    _fails(_write(tmp_path, doc), f"industries[{n}].id", "'solar_pv'")


def test_unknown_archetype(tmp_path, doc):
    doc["industries"][0]["nations"][1]["archetype"] = "fast_follower"
    _fails(_write(tmp_path, doc), "industries[0].nations[1].archetype", "'fast_follower'")


def test_unknown_scenario_target_industry(tmp_path, doc):
    doc["scenarios"][0]["industry"] = "smartphones"
    _fails(_write(tmp_path, doc), "scenarios[0].industry", "'smartphones'")


def test_unknown_scenario_target_nation(tmp_path, doc):
    doc["scenarios"][0]["nation"] = "FRA"
    err = _fails(_write(tmp_path, doc), "scenarios[0].nation", "'FRA'")
    assert "unknown scenario target" in err.problem


def test_unknown_scenario_parameter(tmp_path, doc):
    doc["scenarios"][1]["parameter"] = "vibes"
    _fails(_write(tmp_path, doc), "scenarios[1].parameter", "'vibes'")


def test_no_data_industry_that_declares_thresholds(tmp_path, doc):
    i = _index(doc, "smartphones")
    doc["industries"][i]["volume"] = copy.deepcopy(doc["industries"][0]["volume"])
    err = _fails(_write(tmp_path, doc), f"industries[{i}].volume", "threshold")
    assert "no_data" in err.problem


def test_no_data_industry_without_its_missing_text(tmp_path, doc):
    i = _index(doc, "humanoid_robots")
    del doc["industries"][i]["missing"]
    _fails(_write(tmp_path, doc), f"industries[{i}].missing", "required key missing")


def test_unknown_key(tmp_path, doc):
    doc["industries"][4]["horizn"] = 2030
    _fails(_write(tmp_path, doc), "industries[4].horizn", "'horizn'")


def test_parse_spec_names_the_given_file():
    with pytest.raises(DataError) as info:
        parse_spec(42, "inline.yaml")
    assert info.value.file == "inline.yaml" and "42" in str(info.value)
