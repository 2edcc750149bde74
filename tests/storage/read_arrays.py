#!/usr/bin/env python3
"""Reads the run-arrays HDF5 layout with h5py, as a Python user would (see storage/README.md).

Usage: read_arrays.py WRITER OUT.h5   -- runs `WRITER arrays OUT.h5`, then checks values and attributes.
Exits 77 (ctest: skipped) when h5py is not installed.
"""
import math
import os
import subprocess
import sys

try:
    import h5py
except ImportError:
    print("h5py not installed: skipping")
    sys.exit(77)


def expect(condition, what):
    if not condition:
        print("FAILED:", what)
        sys.exit(1)


writer, path = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.remove(path)
subprocess.run([writer, "arrays", path], check=True)

with h5py.File(path, "r") as f:
    expect(f.attrs["format"] == "dr2net-run-arrays", "format attribute is a str: %r" % f.attrs["format"])
    expect(int(f.attrs["run_id"]) == 7, "run_id")
    expect(int(f.attrs["format_version"]) == 1, "format_version")
    probes = f["probes"]
    expect(list(probes["iteration"][:]) == [0, 100, 200], "probe iterations")
    expect([round(x, 12) for x in probes["alpha"][:]] == [1.0, 0.75, 0.5], "probed alpha path")
    expect([round(x, 12) for x in probes["beta"][:]] == [0.1, 0.35, 0.6], "probed beta path")
    expect(probes["metrics/mse"].attrs["units"] == "gradient^2", "units of mse")
    expect(math.isclose(probes["metrics/mse"][2], 3e-3), "mse of probe 2")
    per_branch = probes["per_branch/mse"]
    expect(per_branch.shape == (3, 4), "per-branch shape %r" % (per_branch.shape,))
    expect(per_branch.chunks is not None and per_branch.maxshape[0] is None, "per-branch is chunked, extendible")
    expect(math.isclose(per_branch[2, 0], 0.2) and per_branch[1, 3] == 3.0, "per-branch values")
    heatmap = f["heatmaps/initial"]
    expect(heatmap.attrs["axes"] == "alpha,beta", "heatmap axes")
    expect(heatmap["mse"].shape == (3, 2), "heatmap shape")
    expect(heatmap["mse"][1, 1] == 4.0, "heatmap is row-major over (alpha, beta)")
    expect(list(heatmap["alpha"][:]) == [0.0, 0.5, 1.0], "heatmap alpha axis")
    memory = f["memory"]
    expect(memory["peak_bytes"].attrs["units"] == "bytes", "memory units")
    expect(list(memory["current_bytes"][:]) == [100 * i for i in range(10)], "memory timeline")
print("h5py read the run arrays:", path)
