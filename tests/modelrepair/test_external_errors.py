"""Every malformed import gets its own clear error (naming file, array, shape, expectation)
from ``spec.check_data()``, i.e. before anything is submitted."""

import re

import numpy as np
import pytest

from modelrepair.errors import DataFileError, SpecError
from modelrepair.external.export import torch_state, write_csv_prefix, write_npz, write_torch
from modelrepair.external.loaders import csv_prefix, read_csv_matrix
from modelrepair.models import spec_from_dict

N, D, P = 5, 10, 20


def _net(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D))
    W0 = rng.standard_normal((D, P))
    return X, W0, W0 + X.T @ rng.standard_normal((N, P)), np.zeros(P), rng.standard_normal(P)


def _check(files, **extra):
    spec_from_dict({"kind": "external", "name": "m", **files, **extra}).check_data()


def test_transposed_w1_in_csv_names_file_shape_and_hint(tmp_path):
    X, W0, W, b0, b = _net()
    prefix = write_csv_prefix(tmp_path / "m", X, W0, W.T, b0, b, header=True)
    with pytest.raises(DataFileError) as err:
        _check({"path": str(prefix)})
    msg = str(err.value)
    assert msg.startswith(str(tmp_path / "m_W1.csv") + ": ")
    assert msg.endswith("W1 has shape (20, 10); expected (d, p) = (10, 20): is it transposed?")


def test_transposed_w0_and_x(tmp_path):
    X, W0, W, b0, b = _net()
    with pytest.raises(DataFileError, match=re.escape("W0 has shape (20, 10); expected (d, p) = (10, 20) like W: is it transposed?")):
        _check({"path": str(write_npz(tmp_path / "a.npz", X, W0.T, W, b0, b))})
    with pytest.raises(DataFileError, match=re.escape("X has shape (10, 5); expected (n, d) with d = 10 (rows of W): is it transposed?")):
        _check({"path": str(write_npz(tmp_path / "b.npz", X.T, W0, W, b0, b))})


def test_wrong_shapes(tmp_path):
    X, W0, W, b0, b = _net()
    with pytest.raises(DataFileError, match=re.escape("beta0 has 19 entries; expected p = 20 (columns of W)")):
        _check({"path": str(write_npz(tmp_path / "a.npz", X, W0, W, b0[:-1], b))})
    with pytest.raises(DataFileError, match=re.escape("W has shape (10, 19); expected (d, p) = (10, 20)")):
        _check({"path": str(write_npz(tmp_path / "b.npz", X, W0, W[:, :-1], b0, b))})
    # W and W0 agree with each other: the array that disagrees with them is named
    with pytest.raises(DataFileError, match=re.escape("beta has 19 entries but W (10, 20) has 20 hidden units")):
        _check({"path": str(write_npz(tmp_path / "d.npz", X, W0, W, b0, b[:-1]))})
    with pytest.raises(DataFileError, match=re.escape("X has 9 columns (inputs) but W (10, 20) has 10 rows")):
        _check({"path": str(write_npz(tmp_path / "e.npz", X[:, :-1], W0, W, b0, b))})
    with pytest.raises(DataFileError, match=re.escape("beta has shape (20, 2); expected a vector of p entries")):
        _check({"path": str(write_npz(tmp_path / "c.npz", X, W0, W, b0, np.ones((P, 2))))})
    with pytest.raises(DataFileError, match=re.escape("W2_0 has 19 entries; expected p = 20 (columns of W1)")):
        _check({"path": write_csv_prefix(tmp_path / "c", X, W0, W, b0[:-1], b)})


def test_missing_files_and_arrays(tmp_path):
    X, W0, W, b0, b = _net()
    with pytest.raises(DataFileError, match=r"nope\.npz: network \(\.npz\) file not found"):
        _check({"path": str(tmp_path / "nope.npz")})
    prefix = write_csv_prefix(tmp_path / "m", X, W0, W, b0, b)
    (tmp_path / "m_W2_0.csv").unlink()
    with pytest.raises(DataFileError, match=r"m_W2_0\.csv: file not found \(1 of 5 missing\); the CSV layout is .*m_\{X,W1_0,W1,W2_0,W2\}\.csv"):
        _check({"path": prefix})
    np.savez(tmp_path / "partial.npz", X=X, W=W, beta=b)
    with pytest.raises(DataFileError, match="missing array\\(s\\) W0, beta0; expected X, W0, W, beta0, beta"):
        _check({"path": str(tmp_path / "partial.npz")})
    write_torch(tmp_path / "t.pt", X, W0, W, b0, b, init_path=tmp_path / "init.pt")
    (tmp_path / "init.pt").unlink()
    with pytest.raises(DataFileError, match=r"init\.pt: torch checkpoint file not found"):
        _check({"path": str(tmp_path / "t.pt"), "init_path": str(tmp_path / "init.pt")})
    with pytest.raises(DataFileError, match=r"b\.npz: missing array\(s\) b0, b"):
        _check({"path": str(write_npz(tmp_path / "b.npz", X, W0, W, b0, b))}, first_layer_bias=True)


def test_nan_weights(tmp_path):
    X, W0, W, b0, b = _net()
    W[3, 7] = np.nan
    W[4, 1] = np.inf
    with pytest.raises(DataFileError, match=re.escape("W1 has 2 NaN/inf entries (first at index (3, 7)); weights must be finite")):
        _check({"path": write_csv_prefix(tmp_path / "m", X, W0, W, b0, b)})
    b[2] = np.nan
    with pytest.raises(DataFileError, match=re.escape("trained second Linear.weight has 1 NaN/inf entries (first at index (2,))")):
        _check({"path": str(write_torch(tmp_path / "t.pt", X, W0, W0, b0, b))})


def test_torch_structure_errors(tmp_path):
    import torch

    X, W0, W, b0, b = _net()
    torch.save(torch_state(W, b), tmp_path / "only.pt")
    with pytest.raises(DataFileError, match="expected a dict with 'initial' and 'trained' state dicts"):
        _check({"path": str(tmp_path / "only.pt")})
    torch.save({"initial": torch_state(W0, b0), "trained": torch_state(W, b)}, tmp_path / "nox.pt")
    with pytest.raises(DataFileError, match="holds no 'X'"):
        _check({"path": str(tmp_path / "nox.pt")})
    np.save(tmp_path / "X.npy", X)
    _check({"path": str(tmp_path / "nox.pt"), "x_path": str(tmp_path / "X.npy")})  # X given separately
    three = {**torch_state(W, b), "4.weight": torch.ones(1, 1)}
    torch.save({"initial": torch_state(W0, b0), "trained": three, "X": torch.tensor(X)}, tmp_path / "three.pt")
    with pytest.raises(DataFileError, match="trained state dict has 3 Linear weight\\(s\\)"):
        _check({"path": str(tmp_path / "three.pt")})
    # a first-layer bias in the files but first_layer_bias = false: refused, never silently ignored
    write_npz(tmp_path / "bias.npz", X, W0, W, b0, b, b0=np.zeros(P), b=np.ones(P))
    with pytest.raises(SpecError, match=r"first_layer_bias: is false but .*bias\.npz holds a first-layer bias 'b'"):
        _check({"path": str(tmp_path / "bias.npz")})
    _check({"path": str(tmp_path / "bias.npz")}, first_layer_bias=True)
    bprefix = write_csv_prefix(tmp_path / "bc", X, W0, W, b0, b, b0=np.zeros(P), b=np.ones(P))
    with pytest.raises(SpecError, match=r"first_layer_bias: is false but .*bc_b1\.csv \(a first-layer bias\) exists"):
        _check({"path": bprefix})
    write_torch(tmp_path / "bias.pt", X, W0, W, b0, b, b0=np.zeros(P), b=np.ones(P))
    with pytest.raises(SpecError, match="first_layer_bias: is false but the first Linear layer .* has a bias; set first_layer_bias = true"):
        _check({"path": str(tmp_path / "bias.pt")})
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(DataFileError, match="cannot read as a torch checkpoint"):
        _check({"path": str(tmp_path / "junk.pt")})


def test_spec_field_errors():
    with pytest.raises(SpecError, match=r"model\.path: required"):
        spec_from_dict({"kind": "external"})
    with pytest.raises(SpecError, match=r"model\.init_path: only used with format = 'torch'"):
        spec_from_dict({"kind": "external", "path": "a.npz", "init_path": "b.pt"})
    with pytest.raises(SpecError, match=r"model\.activation: expected one of 'tanh', 'relu', 'sigmoid'"):
        spec_from_dict({"kind": "external", "path": "a.npz", "activation": "gelu"})


def test_csv_reader_headers_and_row_names(tmp_path):
    M = np.arange(6.0).reshape(2, 3) / 7
    plain, header, rnames = tmp_path / "p.csv", tmp_path / "h.csv", tmp_path / "r.csv"
    np.savetxt(plain, M, delimiter=",", fmt="%.17g")
    np.savetxt(header, M, delimiter=",", fmt="%.17g", header='"V1","V2","V3"', comments="")
    rows = ['"","V1","V2","V3"'] + [f'"{i + 1}",' + ",".join(f"{v:.17g}" for v in r) for i, r in enumerate(M)]
    rnames.write_text("\n".join(rows) + "\n")  # R write.csv layout
    assert csv_prefix("a/net_W1_0.csv") == csv_prefix("a/net_X.csv") == csv_prefix("a/net") == "a/net"
    for path in (plain, header, rnames):
        assert np.array_equal(read_csv_matrix(path, "W1"), M), path
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\n3,x\n")
    with pytest.raises(DataFileError, match="malformed W1 CSV"):
        read_csv_matrix(bad, "W1")


def test_file_content_is_part_of_the_identity(tmp_path):
    X, W0, W, b0, b = _net()
    path = str(write_npz(tmp_path / "m.npz", X, W0, W, b0, b))
    spec = spec_from_dict({"kind": "external", "name": "m", "path": path})
    d = spec.to_dict()
    assert len(d["data_sha256"]) == 64 and spec.data_sha256 == ""
    planned = spec_from_dict(d)  # as rebuilt from a manifest
    planned.check_data()
    assert planned.content_hash() == spec.content_hash()
    import time

    time.sleep(0.01)
    write_npz(tmp_path / "m.npz", X, W0, W + 1e-3 * X[:1].T, b0, b)  # retrained, same name
    assert spec.to_dict()["data_sha256"] != d["data_sha256"]
    with pytest.raises(DataFileError, match="m.npz: content changed since the sweep was planned"):
        planned.check_data()
