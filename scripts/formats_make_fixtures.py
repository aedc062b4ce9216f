#!/usr/bin/env python3
"""Reference fixtures for the Formats and Report tests, written by the libraries people already use.

    python3 -m venv /tmp/formats-venv
    /tmp/formats-venv/bin/pip install safetensors numpy scikit-learn pillow
    /tmp/formats-venv/bin/python scripts/formats_make_fixtures.py

Writes into Tests/FormatsTests/Fixtures/:
  reference.safetensors        written by the `safetensors` package (F32, F64, F16, BF16, I64, I32, empty)
  writer_reference.safetensors the bytes our writer must reproduce exactly for the same tensors
  float32.npy, int64.npy       written by numpy.save
  formats_reference.json       expected values: tensors, npy headers, PNG bytes
and into Tests/ReportTests/Fixtures/:
  report_reference.json        expected values: scikit-learn reports, top-k accuracy, balanced
                               accuracy, confusion matrix, PCA

Running it again reproduces every file byte for byte (fixed seeds, single-key metadata so the
safetensors header has no hash-map order in it).
"""
import base64
import io
import json
import os
import struct
import warnings
import zlib

import numpy as np
import safetensors
import safetensors.numpy
from PIL import Image
from sklearn.metrics import (balanced_accuracy_score, classification_report, confusion_matrix,
                             top_k_accuracy_score)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "FormatsTests", "Fixtures")
REPORT_OUT = os.path.join(HERE, "..", "Tests", "ReportTests", "Fixtures")


def floats(a):
    return [float(v) for v in np.asarray(a).reshape(-1)]


def safetensors_fixtures(rng):
    conv = rng.normal(size=(2, 3, 2, 2)).astype(np.float32)
    running_var = rng.uniform(0.5, 2.0, size=(3,)).astype(np.float32)
    tracked = np.array(1234567890123, dtype=np.int64)
    counter32 = np.array([-5, 7], dtype=np.int32)
    double = np.array([1.0 / 3.0, -2.5e-8], dtype=np.float64)
    # A normal, a negative, the largest half, the smallest subnormal half, negative zero.
    half = np.array([1.0, -2.5, 65504.0, 5.960464477539063e-08, -0.0], dtype=np.float16)
    bf16_source = np.array([1.0, -3.140625, 1e-20], dtype=np.float32)
    bf16_bits = (bf16_source.view(np.uint32) >> 16).astype(np.uint16)
    bf16_values = (bf16_bits.astype(np.uint32) << 16).view(np.float32)
    empty = np.zeros((0, 3), dtype=np.float32)

    arrays = {
        "conv1.weight": conv,
        "bn1.running_var": running_var,
        "bn1.num_batches_tracked": tracked,
        "counter32": counter32,
        "double": double,
        "half": half,
        "empty": empty,
    }
    # numpy has no bfloat16: hand the raw bits to the package's own serializer.
    specs = {}
    for name, array in arrays.items():
        specs[name] = safetensors.TensorSpec(dtype=array.dtype.name, shape=array.shape,
                                             data_ptr=array.ctypes.data, data_len=array.nbytes)
    specs["bf16"] = safetensors.TensorSpec(dtype="bfloat16", shape=bf16_bits.shape,
                                           data_ptr=bf16_bits.ctypes.data, data_len=bf16_bits.nbytes)
    blob = bytes(safetensors.serialize(specs, metadata={"format": "pt"}))
    with open(os.path.join(OUT, "reference.safetensors"), "wb") as f:
        f.write(blob)
    # The package reads back what it wrote (and the bf16 bits are where we put them).
    back = safetensors.deserialize(blob)
    assert {name for name, _ in back} == set(arrays) | {"bf16"}

    expected = {
        "conv1.weight": {"dtype": "F32", "shape": list(conv.shape), "values": floats(conv)},
        "bn1.running_var": {"dtype": "F32", "shape": [3], "values": floats(running_var)},
        "bn1.num_batches_tracked": {"dtype": "I64", "shape": [], "ints": [int(tracked)]},
        "counter32": {"dtype": "I32", "shape": [2], "ints": [int(v) for v in counter32]},
        "double": {"dtype": "F64", "shape": [2], "values": floats(double.astype(np.float32))},
        "half": {"dtype": "F16", "shape": [5], "values": floats(half.astype(np.float32))},
        "bf16": {"dtype": "BF16", "shape": [3], "values": floats(bf16_values)},
        "empty": {"dtype": "F32", "shape": [0, 3], "values": []},
    }

    # Our writer must produce these bytes exactly: F32, I64 and I32 tensors, one metadata key whose
    # value needs JSON escaping.
    writer_arrays = {"conv1.weight": conv, "bn1.running_var": running_var,
                     "bn1.num_batches_tracked": tracked, "counter32": counter32, "empty": empty}
    writer_metadata = {"note": "pt \"quoted\" \u2713 \\ tab\there"}
    writer_blob = safetensors.numpy.save(writer_arrays, metadata=writer_metadata)
    with open(os.path.join(OUT, "writer_reference.safetensors"), "wb") as f:
        f.write(writer_blob)
    return {"tensors": expected, "metadata": {"format": "pt"}, "writer_metadata": writer_metadata}


def npy_fixtures(rng):
    f32 = rng.normal(size=(3, 4)).astype(np.float32)
    i64 = np.array([0, -1, 2**40, 7, -(2**62)], dtype=np.int64)
    np.save(os.path.join(OUT, "float32.npy"), f32)
    np.save(os.path.join(OUT, "int64.npy"), i64)
    headers = []
    for dtype, shape in [("float32", (3, 4)), ("int64", (5,)), ("float32", (0, 3)),
                         ("float32", (123456, 2048)), ("int64", (10**12,)), ("float32", ()),
                         ("float32", (7, 1, 2))]:
        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buffer, np.lib.format.header_data_from_array_1_0(np.empty((0,), dtype=dtype)) | {"shape": shape})
        headers.append({"dtype": dtype, "shape": list(shape),
                        "header": base64.b64encode(buffer.getvalue()).decode()})
    return {"float32": {"shape": [3, 4], "values": floats(f32)},
            "int64": {"shape": [5], "ints": [int(v) for v in i64]},
            "headers": headers}


def report_fixture(y_true, y_pred, names, scores):
    labels = list(range(len(names)))
    out = {"y_true": [int(v) for v in y_true], "y_pred": [int(v) for v in y_pred], "names": names,
           "text": classification_report(y_true, y_pred, labels=labels, target_names=names,
                                         zero_division="warn"),
           "text_digits4": classification_report(y_true, y_pred, labels=labels, target_names=names,
                                                 digits=4, zero_division="warn"),
           "dict": classification_report(y_true, y_pred, labels=labels, target_names=names,
                                         output_dict=True, zero_division="warn"),
           "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
           "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred))}
    if scores is not None:
        out["scores"] = floats(scores)
        out["argmax"] = [int(v) for v in np.argmax(scores, axis=1)]
        out["top_k"] = {str(k): float(top_k_accuracy_score(y_true, scores, k=k, labels=labels))
                        for k in (1, 2, 5)}
    return out


def classification_fixtures(rng):
    names = ["Abyssinian", "american_pit_bull_terrier", "Bengal", "staffordshire_bull_terrier",
             "cat & <dog>", "never_predicted", "absent_class", "x"]
    n = 60
    y_true = rng.integers(0, 6, size=n)  # classes 6 and 7 have no support
    y_pred = y_true.copy()
    wrong = rng.uniform(size=n) < 0.4
    y_pred[wrong] = rng.choice([0, 1, 2, 3, 4, 7], size=int(wrong.sum()))
    y_pred[y_pred == 5] = 2  # class 5 is never predicted
    # Scores rounded to one decimal so many tie: exercises the tie order of top-k.
    scores = np.round(rng.uniform(size=(n, len(names))), 1).astype(np.float32)
    scores[np.arange(n), y_pred] += 1.0
    main = report_fixture(y_true, y_pred, names, scores)

    short_names = ["a", "bb", "ccc"]
    y_true_short = np.array([0, 0, 1, 1, 1, 2, 2, 0, 1, 2, 2])
    y_pred_short = np.array([0, 1, 1, 1, 0, 2, 1, 0, 1, 2, 0])
    short = report_fixture(y_true_short, y_pred_short, short_names, None)
    return {"main": main, "short": short}


def pca_fixture(rng, n, d, scales):
    x = (rng.normal(size=(n, d)) * np.array(scales) + rng.normal(size=d) * 3).astype(np.float32)
    x64 = x.astype(np.float64)
    centred = x64 - x64.mean(axis=0)
    covariance = centred.T @ centred / (n - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1][:2]
    projection = centred @ eigenvectors[:, order]
    return {"n": n, "d": d, "x": floats(x), "projection": [float(v) for v in projection.reshape(-1)],
            "explained_variance": [float(eigenvalues[i]) for i in order]}


def png_bytes(width, height, channels, pixels):
    """A PNG built by hand with zlib's stored (level 0) deflate, then checked by Pillow."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    colour_type = {1: 0, 3: 2}[channels]
    rows = b"".join(b"\x00" + bytes(pixels[r * width * channels:(r + 1) * width * channels])
                    for r in range(height))
    data = (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 0))
            + chunk(b"IEND", b""))
    decoded = np.asarray(Image.open(io.BytesIO(data)))
    assert decoded.reshape(-1).tolist() == list(pixels), "Pillow disagrees with the pixels"
    return base64.b64encode(data).decode()


def png_fixtures():
    rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90]  # 3 x 2
    gray = [0, 64, 128, 192, 255, 1]  # 2 x 3
    return [{"width": 3, "height": 2, "channels": 3, "pixels": rgb, "png": png_bytes(3, 2, 3, rgb)},
            {"width": 2, "height": 3, "channels": 1, "pixels": gray, "png": png_bytes(2, 3, 1, gray)}]


def main():
    # scikit-learn warns about the ill-defined scores the fixture exists to exercise.
    warnings.filterwarnings("ignore")
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(REPORT_OUT, exist_ok=True)
    # One stream in this order for both files, so that each fixture keeps its values.
    rng = np.random.default_rng(20240601)
    formats = {"safetensors": safetensors_fixtures(rng), "npy": npy_fixtures(rng)}
    report = {"classification": classification_fixtures(rng),
              "pca": [pca_fixture(rng, 30, 5, [5.0, 3.0, 1.0, 0.5, 0.2]),
                      pca_fixture(rng, 12, 40, np.linspace(4.0, 0.1, 40))]}
    formats["png"] = png_fixtures()
    for folder, name, fixture in [(OUT, "formats_reference.json", formats),
                                  (REPORT_OUT, "report_reference.json", report)]:
        with open(os.path.join(folder, name), "w") as f:
            json.dump(fixture, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
