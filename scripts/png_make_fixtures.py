#!/usr/bin/env python3
"""Writes the PNG fixtures of Tests/ImagesTests: one small PNG of each kind (gray at 4, 8 and 16
bits, gray with tRNS, gray+alpha at 8 and 16 bits, RGB at 8 and 16 bits, RGB with tRNS, RGBA,
palette, palette with tRNS, Adam7-interlaced RGB and palette) in Fixtures/png/, and png.json with the
pixels Pillow decodes from each through convert("RGB") and convert("L").

The files are written here by hand (zlib and struct), because Pillow cannot write 16-bit colour or
interlaced PNGs; Pillow is only the reference decoder.

Run from the repository root:  python3 scripts/png_make_fixtures.py
Made with Pillow 13.0.0 and NumPy 2.4.6.
"""
import base64
import json
import os
import struct
import warnings
import zlib

import numpy as np
from PIL import Image

OUT = os.path.join("Tests", "ImagesTests", "Fixtures")
PNG_DIR = os.path.join(OUT, "png")

# Adam7: (first column, first row, column step, row step) of each pass.
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def scanlines(samples, bit_depth):
    """samples: [h, w, c] unsigned ints -> filter-type-0 rows, big-endian, packed below 8 bits."""
    h, w, c = samples.shape
    if bit_depth == 16:
        rows = samples.astype(">u2").reshape(h, w * c).view(np.uint8).reshape(h, w * c * 2)
    elif bit_depth == 8:
        rows = samples.astype(np.uint8).reshape(h, w * c)
    else:
        per_byte = 8 // bit_depth
        flat = samples.reshape(h, w * c).astype(np.uint8)
        padded = np.zeros((h, -(-w * c // per_byte) * per_byte), np.uint8)
        padded[:, : w * c] = flat
        groups = padded.reshape(h, -1, per_byte)
        rows = np.zeros(groups.shape[:2], np.uint8)
        for k in range(per_byte):
            rows |= groups[:, :, k] << (8 - bit_depth * (k + 1))
    return b"".join(b"\x00" + row.tobytes() for row in rows)


def write_png(name, samples, color_type, bit_depth, palette=None, trns=None, interlace=False):
    h, w = samples.shape[:2]
    samples = samples.reshape(h, w, CHANNELS[color_type])
    if interlace:
        raw = b"".join(scanlines(samples[y0::dy, x0::dx], bit_depth)
                       for x0, y0, dx, dy in ADAM7 if samples[y0::dy, x0::dx].size)
    else:
        raw = scanlines(samples, bit_depth)
    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        data += chunk(b"PLTE", np.asarray(palette, np.uint8).tobytes())
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(os.path.join(PNG_DIR, name), "wb") as f:
        f.write(data)


def b64(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).decode("ascii")


def main():
    # Pillow warns that convert("RGB") drops a palette's tRNS; dropping it is what is being recorded.
    warnings.filterwarnings("ignore", message="Palette images with Transparency")
    os.makedirs(PNG_DIR, exist_ok=True)
    rng = np.random.default_rng(7)
    h, w = 7, 9

    def noise(top, *shape):
        return rng.integers(0, top + 1, size=(h, w) + shape, dtype=np.int64)

    palette = rng.integers(0, 256, size=(12, 3))
    gray16 = noise(65535)
    gray16[0, :4] = [0, 200, 255, 256]   # around Pillow's clip to 255
    kinds = [
        ("gray4.png", noise(15), 0, 4, {}),
        ("gray8.png", noise(255), 0, 8, {}),
        ("gray16.png", gray16, 0, 16, {}),
        ("gray8_trns.png", noise(255), 0, 8, {"trns": struct.pack(">H", 17)}),
        ("gray_alpha8.png", noise(255, 2), 4, 8, {}),
        ("gray_alpha16.png", noise(65535, 2), 4, 16, {}),
        ("rgb8.png", noise(255, 3), 2, 8, {}),
        ("rgb16.png", noise(65535, 3), 2, 16, {}),
        ("rgb8_trns.png", noise(255, 3), 2, 8, {"trns": struct.pack(">HHH", 10, 20, 30)}),
        ("rgba8.png", noise(255, 4), 6, 8, {}),
        ("palette8.png", noise(11), 3, 8, {"palette": palette}),
        ("palette4_trns.png", noise(11), 3, 4, {"palette": palette, "trns": bytes([0, 128, 255, 7])}),
        ("rgb8_interlaced.png", noise(255, 3), 2, 8, {"interlace": True}),
        ("palette8_interlaced_trns.png", noise(11), 3, 8, {"palette": palette, "trns": bytes([64]), "interlace": True}),
    ]
    cases = []
    for name, samples, color_type, bit_depth, options in kinds:
        write_png(name, samples, color_type, bit_depth, **options)
        with Image.open(os.path.join(PNG_DIR, name)) as im:
            mode = im.mode
            rgb = np.asarray(im.convert("RGB"))
            gray = np.asarray(im.convert("L"))
        cases.append({
            "file": name, "mode": mode, "color_type": color_type, "bit_depth": bit_depth,
            "interlaced": bool(options.get("interlace")), "width": w, "height": h,
            "rgb": b64(rgb), "gray": b64(gray),
        })
    with open(os.path.join(OUT, "png.json"), "w") as f:
        json.dump({"generator": "scripts/png_make_fixtures.py", "pillow": Image.__version__, "cases": cases}, f,
                  indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
