"""Column descriptions (with units) of the warehouse tables, and licence tags of the sources."""

from __future__ import annotations

import re

from learnrace_pipeline.lib.report.licence import TAGS, licence_tag
from learnrace_pipeline.lib.report.table_docs import TABLE_TEXT, column_doc, quantile_label
from learnrace_pipeline.lib.sources import SOURCES, reader
from learnrace_pipeline.lib.storage.snapshot import schema_of


def test_every_tidy_column_is_described_in_raw_and_harmonized() -> None:
    for table in TABLE_TEXT:
        for column in schema_of(table):
            for schema, name in (("harmonized", table), ("raw", f"epoch_ai__{table}")):
                assert column_doc(schema, name, column), (schema, name, column)


def test_statistic_columns_name_their_statistic_and_unit() -> None:
    assert column_doc("calibration", "learning_rates", "w_q05") == (
        "5% quantile of Wright exponent w, unit-free (cost ∝ Q^-w)"
    )
    assert column_doc("calibration", "learning_rates", "m_mean").startswith("posterior mean of")
    assert "ln cost" in column_doc("calibration", "learning_rates", "m_mean")
    assert "months" in column_doc("calibration", "ai_frontier", "doubling_months_q50")
    assert "log10 FLOP" in column_doc("calibration", "ai_frontier_hindcast", "q95")
    assert "cost unit" in column_doc("evaluation", "forecasts", "q025")
    assert column_doc("evaluation", "forecasts", "q025").startswith("2.5% quantile")
    # the race's horizon is a calendar year, the hindcast's a number of years
    assert "calendar year" in column_doc("race", "race", "horizon")
    assert "years ahead" in column_doc("evaluation", "scores_by_horizon", "horizon")
    assert column_doc("evaluation", "scores", "not_a_column") is None


def test_quantile_labels() -> None:
    assert [quantile_label(d) for d in ("05", "50", "025", "975")] == ["5%", "50%", "2.5%", "97.5%"]


def test_licence_tags_never_claim_more_than_the_text() -> None:
    unstated = re.compile(r"unstated|unknown|no licen[cs]e", re.I)
    for source in SOURCES:
        info = reader(source).INFO
        tag = licence_tag(info.licence, info.non_commercial)
        assert tag in TAGS
        if info.non_commercial:
            assert tag == "non-commercial", source
        if tag == "open":
            assert not unstated.search(info.licence), (source, info.licence)
    assert licence_tag("Terms unstated; cite the paper", False) == "unstated"
    assert licence_tag("CC BY 4.0 (Our World in Data)", False) == "open"
    assert licence_tag("CC BY-NC 4.0", False) == "unstated"  # without its flag: not open
    assert licence_tag("CC BY-NC 4.0", True) == "non-commercial"
    assert licence_tag("CC BY 4.0 (not verified)", False) == "open-unverified"
    assert licence_tag("OWID CC BY 4.0; third-party sources keep their own terms", False) == "mixed"
    assert licence_tag("Repository MIT; data terms unstated; export CC BY 4.0", False) == "unstated"
