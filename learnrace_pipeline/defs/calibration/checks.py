"""Asset-check results shared by the calibration and evaluation assets: from model diagnostics,
and warnings (non-blocking checks that report a figure outside its band)."""

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


def warn_check(
    key: list[str],
    name: str,
    passed: bool,
    description: str,
    metadata: dict | None = None,
) -> dg.AssetCheckResult:
    """A WARN-severity asset-check result for asset ``key``."""
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(key),
        check_name=name,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata=metadata,
    )
