"""The shipped colon presets describe the thesis' experiment (and a reduced version of it)."""

from __future__ import annotations

import tomllib

import pytest

from modelrepair.models import spec_from_dict


def load(repo_root, name):
    return tomllib.loads((repo_root / "examples" / name).read_text())


def test_thesis_preset_matches_the_thesis(repo_root):
    cfg = load(repo_root, "colon-thesis.toml")
    assert cfg["grid"]["epsilon"] == {"start": 0.0, "stop": 1.0, "step": 0.025}
    assert cfg["sweep"]["trials"] == 20
    assert cfg["repair"]["tolerance"] == 1e-5
    assert (cfg["corruption"]["mean"], cfg["corruption"]["sd"]) == (1.0, 1.0)
    specs = [spec_from_dict(m) for m in cfg["models"]]
    assert [s.design.p for s in specs] == [100, 150, 250, 500, 1000]
    for s in specs:
        assert s.kind == "twolayer" and s.hidden == 2 * s.design.p
        assert (s.activation, s.training, s.beta_init, s.label_map) == ("tanh", "layerwise", "zero", "thesis")
        assert s.steps == 100_000 and s.design.source == "colon"
        assert s.design.data.endswith("colon_alon1999_X.csv")
    lrs = [s.lr for s in specs]
    assert lrs == sorted(lrs, reverse=True)  # learning rate decreasing with size


def test_reduced_preset_is_small(repo_root):
    cfg = load(repo_root, "colon-reduced.toml")
    specs = [spec_from_dict(m) for m in cfg["models"]]
    nets = [s for s in specs if s.kind == "twolayer"]
    assert [s.design.p for s in nets] == [100, 150, 250]
    assert all(s.steps <= 2000 and s.hidden == 2 * s.design.p for s in nets)
    assert {s.kind for s in specs} == {"twolayer", "random_features", "lasso"}
    assert cfg["sweep"]["trials"] == 5 and cfg["repair"]["mode"] == "early_stop"


@pytest.mark.parametrize("name", ["colon-thesis.toml", "colon-reduced.toml"])
def test_preset_data_paths_point_at_the_shared_data(repo_root, shared_data, name):
    for m in load(repo_root, name)["models"]:
        for key in ("data", "labels"):
            path = (repo_root / "examples" / m["design"][key]).resolve()
            assert path.is_file() and path.parent == shared_data.resolve()
