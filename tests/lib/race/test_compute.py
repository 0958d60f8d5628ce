import numpy as np
import xarray as xr

from learnrace_pipeline.lib.race.compute import Route, route, unavailable
from learnrace_pipeline.lib.race.spec import load_spec


def _fit(series: list[str]) -> xr.DataTree:
    post = xr.Dataset(
        {"w_series": (("chain", "draw", "series"), np.zeros((1, 2, len(series))))},
        coords={"series": series},
    )
    return xr.DataTree.from_dict({"posterior": post})


def test_routes_follow_the_metric():
    spec = load_spec()
    assert route(spec.industry("solar_pv"), "capability").fit == "solar_nation"
    assert route(spec.industry("solar_pv"), "volume").fit == "deployment"
    assert route(spec.industry("solar_pv"), "cost").fit == "national_learning"
    assert route(spec.industry("batteries_evs"), "cost").fit == "wright"
    assert route(spec.industry("batteries_evs"), "capability").fit == "wright"
    assert route(spec.industry("ai_foundation_models"), "capability").fit == "ai_frontier"
    assert route(spec.industry("autonomous_vehicles"), "volume").fit == "av"
    assert route(spec.industry("semiconductors"), "capability").fit == "node_frontier"
    assert route(spec.industry("industrial_robots"), "capability") is None  # declared missing


def test_a_wright_fit_without_the_series_cannot_project_it():
    spec = load_spec()
    ind = spec.industry("batteries_evs")
    r = route(ind, "cost")
    series = "mvpf_climate_vendored:way2022_battery_cost_spliced"
    assert unavailable(r, _fit([series, "other"]), ind.cost) is None
    why = unavailable(r, _fit(["other"]), ind.cost)
    assert why is not None and series in why
    # other fits are not checked this way
    assert unavailable(Route("deployment", r.call), _fit([]), ind.cost) is None
