"""Asset-check results from model diagnostics, shared by the calibration assets."""

import json

import dagster as dg

from learnrace_pipeline.lib.models.diagnostics import DiagnosticsResult


def diagnostics_check(key: list[str], name: str, diag: DiagnosticsResult) -> dg.AssetCheckResult:
    """An asset-check result for ``diag``: passed or not, the failing parameters named."""
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(key),
        check_name=name,
        passed=diag.passed,
        description=diag.describe(),
        metadata={
            "failing_parameters": dg.MetadataValue.json(list(diag.failing_parameters)[:50]),
            "diagnostics": dg.MetadataValue.json(
                json.loads(json.dumps(diag.to_dict(), default=str))
            ),
        },
    )
