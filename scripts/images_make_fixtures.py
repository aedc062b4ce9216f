#!/usr/bin/env python3
"""Writes the fixtures of Tests/ImagesTests: small JPEGs made with Pillow and the pixels Pillow
decodes from them (jpeg.json), and reference results of the augmentation primitives computed with
NumPy / Pillow independently of the Swift code (augment.json).

Run from the repository root:  python3 scripts/images_make_fixtures.py
Made with Pillow 13.0.0 (its bundled libjpeg-turbo 3.2.0) and NumPy 2.4.6; rerunning with those
reproduces the files byte for byte (Pillow's JPEG encoder is deterministic for a given libjpeg).
"""
import base64
import io
import json
import os

import numpy as np
from PIL import Image

OUT = os.path.join("Tests", "ImagesTests", "Fixtures")
JPEG_DIR = os.path.join(OUT, "jpeg")


def b64(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).decode("ascii")


def picture(h, w, seed):
    """Smooth colour gradients, a disc and mild noise: exercises both DC and AC coefficients."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 128 + 100 * np.sin(x / 3.0) * np.cos(y / 4.0)
    disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (min(h, w) * 0.3) ** 2
    r = np.where(disc, 30, r)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, size=(h, w, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def save(image, name, **options):
    path = os.path.join(JPEG_DIR, name)
    image.save(path, "JPEG", **options)
    return path


def decoded(path, mode, draft_size=None):
    with Image.open(path) as im:
        if draft_size is not None:
            im.draft(mode, draft_size)
        im = im.convert(mode)
        return np.asarray(im)


def jpeg_fixtures():
    os.makedirs(JPEG_DIR, exist_ok=True)
    cases = []
    rgb = Image.fromarray(picture(29, 37, 1), "RGB")
    gray = Image.fromarray(picture(27, 33, 2)[:, :, 1], "L")
    big = Image.fromarray(picture(48, 64, 3), "RGB")
    cmyk_pixels = np.concatenate([picture(20, 24, 4), picture(20, 24, 5)[:, :, :1] // 2], axis=-1)
    cmyk = Image.fromarray(cmyk_pixels, "CMYK")

    files = [
        ("rgb_baseline.jpg", rgb, dict(quality=90)),
        ("rgb_progressive.jpg", rgb, dict(quality=85, progressive=True)),
        ("rgb_444.jpg", rgb, dict(quality=95, subsampling=0)),
        ("gray.jpg", gray, dict(quality=90)),
        ("gray_progressive.jpg", gray, dict(quality=90, progressive=True)),
        ("cmyk.jpg", cmyk, dict(quality=90)),
        ("big_rgb.jpg", big, dict(quality=90)),
        ("big_gray.jpg", big.convert("L"), dict(quality=90)),
    ]
    for name, image, options in files:
        path = save(image, name, **options)
        with Image.open(path) as im:
            source_mode = im.mode
            progressive = bool(im.info.get("progressive", 0) or im.info.get("progression", 0))
        mode = "L" if source_mode == "L" else "RGB"
        pixels = decoded(path, mode)
        cases.append(dict(file=name, source_mode=source_mode, progressive=progressive, scale=1,
                          minimum=[0, 0], width=pixels.shape[1], height=pixels.shape[0],
                          channels=1 if mode == "L" else 3, pixels=b64(pixels)))
        if name in ("rgb_baseline.jpg", "cmyk.jpg"):   # colour asked for gray: libjpeg's Y / Pillow's L
            with Image.open(path) as im:
                if source_mode != "CMYK":
                    im.draft("L", im.size)
                pixels = np.asarray(im.convert("L"))
            cases.append(dict(file=name, source_mode=source_mode, progressive=progressive, scale=1,
                              minimum=[0, 0], output="gray", width=pixels.shape[1],
                              height=pixels.shape[0], channels=1, pixels=b64(pixels)))
        if source_mode == "L":   # a gray file asked for RGB: replicated
            pixels = decoded(path, "RGB")
            cases.append(dict(file=name, source_mode=source_mode, progressive=progressive, scale=1,
                              minimum=[0, 0], output="rgb", width=pixels.shape[1],
                              height=pixels.shape[0], channels=3, pixels=b64(pixels)))

    # DCT-scaled decoding. The Swift decoder picks the largest reduction whose output is at least
    # `minimum` on both sides; Pillow's draft() is given the exact scaled size to force the same scale.
    for name in ("big_rgb.jpg", "big_gray.jpg"):
        path = os.path.join(JPEG_DIR, name)
        for minimum, scale in (([20, 20], 2), ([10, 9], 4), ([8, 6], 8), ([7, 1], 8), ([33, 10], 1)):
            mode = "L" if "gray" in name else "RGB"
            size = (64 // scale, 48 // scale)
            pixels = decoded(path, mode, draft_size=size)
            assert pixels.shape[1] == size[0] and pixels.shape[0] == size[1], (name, scale, pixels.shape)
            cases.append(dict(file=name, source_mode=mode, progressive=False, scale=scale, minimum=minimum,
                              width=size[0], height=size[1], channels=1 if mode == "L" else 3,
                              pixels=b64(pixels)))

    # Not JPEGs, named .jpg.
    buffer = io.BytesIO()
    rgb.save(buffer, "PNG")
    with open(os.path.join(JPEG_DIR, "png_named.jpg"), "wb") as f:
        f.write(buffer.getvalue())
    buffer = io.BytesIO()
    rgb.convert("P").save(buffer, "GIF")
    with open(os.path.join(JPEG_DIR, "gif_named.jpg"), "wb") as f:
        f.write(buffer.getvalue())

    with open(os.path.join(OUT, "jpeg.json"), "w") as f:
        json.dump(dict(generator="scripts/images_make_fixtures.py", cases=cases), f, indent=1)
        f.write("\n")


# Augmentation references. Resizing: Pillow's separable triangle (bilinear) filter, support scaled
# by the reduction when downscaling (antialias), taps limited to the crop, kept in float here.
def filter_weights(in_start, in_len, out_size, limit_lo, limit_hi):
    scale = in_len / out_size
    support = max(scale, 1.0)
    rows = []
    for i in range(out_size):
        center = in_start + (i + 0.5) * scale
        lo = max(int(np.floor(center - support + 0.5)), limit_lo)
        hi = min(int(np.floor(center + support + 0.5)), limit_hi)
        taps = np.arange(lo, hi)
        w = np.maximum(0.0, 1.0 - np.abs((taps + 0.5 - center) / support))
        rows.append((taps, w / w.sum()))
    return rows


def resize_box(img, top, left, h, w, out_h, out_w, limit=None):
    """img: [H, W, C] float. The box (top, left, h, w) resized to (out_h, out_w)."""
    H, W = img.shape[:2]
    y_lo, y_hi, x_lo, x_hi = limit if limit else (0, H, 0, W)
    wy = filter_weights(top, h, out_h, y_lo, y_hi)
    wx = filter_weights(left, w, out_w, x_lo, x_hi)
    out = np.zeros((out_h, out_w, img.shape[2]))
    for oy, (ty, ky) in enumerate(wy):
        rows = np.tensordot(ky, img[ty], axes=(0, 0))           # [W, C]
        for ox, (tx, kx) in enumerate(wx):
            out[oy, ox] = np.tensordot(kx, rows[tx], axes=(0, 0))
    return out


def gray_of(img):
    return 0.2989 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]


def blend(a, b, ratio):
    return np.clip(ratio * a + (1 - ratio) * b, 0, 1)


def rgb2hsv(img):
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    maxc, minc = img.max(-1), img.min(-1)
    eq = maxc == minc
    cr = maxc - minc
    s = cr / np.where(eq, 1.0, maxc)
    d = np.where(eq, 1.0, cr)
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    h = np.where(maxc == r, bc - gc, np.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = np.fmod(h / 6.0 + 1.0, 1.0)
    return h, s, maxc


def hsv2rgb(h, s, v):
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(int) % 6
    p = np.clip(v * (1 - s), 0, 1)
    q = np.clip(v * (1 - s * f), 0, 1)
    t = np.clip(v * (1 - s * (1 - f)), 0, 1)
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.zeros(h.shape + (3,))
    for k, (r, g, b) in enumerate(table):
        m = i == k
        out[m, 0], out[m, 1], out[m, 2] = r[m], g[m], b[m]
    return out


def adjust_hue(img, factor):
    h, s, v = rgb2hsv(img)
    return hsv2rgb(np.mod(h + factor, 1.0), s, v)


def gaussian_blur(img, k, sigma):
    half = (k - 1) * 0.5
    x = np.linspace(-half, half, k)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    r = k // 2
    padded = np.pad(img, ((r, r), (r, r), (0, 0)), mode="reflect")
    H, W = img.shape[:2]
    rows = sum(kernel[j] * padded[j:j + H, :, :] for j in range(k))
    return sum(kernel[j] * rows[:, j:j + W, :] for j in range(k))


def augment_fixtures():
    rng = np.random.default_rng(7)
    src = rng.integers(0, 256, size=(13, 17, 3), dtype=np.uint8)
    srcf = src.astype(np.float64) / 255.0
    resize = []
    for (top, left, h, w, out_h, out_w) in ((2, 3, 9, 11, 5, 7), (2, 3, 9, 11, 20, 16), (0, 0, 13, 17, 13, 17),
                                            (1, 0, 12, 17, 6, 4), (4, 5, 3, 3, 7, 9)):
        ref = resize_box(srcf, top, left, h, w, out_h, out_w, limit=(top, top + h, left, left + w))
        pil = np.asarray(Image.fromarray(src).crop((left, top, left + w, top + h))
                         .resize((out_w, out_h), Image.BILINEAR)).astype(np.float64) / 255.0
        resize.append(dict(box=[top, left, h, w], size=[out_h, out_w], expected=ref.round(7).ravel().tolist(),
                           pillow=pil.round(7).ravel().tolist()))
    # Evaluation transform: shorter side to 10, then a centre 8x8 crop (torchvision's Resize + CenterCrop).
    H, W = src.shape[:2]
    short = 10
    rh, rw = (short, int(short * W / H)) if H <= W else (int(short * H / W), short)
    crop = 8
    top, left = int(round((rh - crop) / 2.0)), int(round((rw - crop) / 2.0))
    resized = resize_box(srcf, 0, 0, H, W, rh, rw)
    evaluation = dict(resize=short, crop=crop, expected=resized[top:top + crop, left:left + crop].round(7).ravel().tolist(),
                      pillow=(np.asarray(Image.fromarray(src).resize((rw, rh), Image.BILINEAR))[top:top + crop, left:left + crop]
                              .astype(np.float64) / 255.0).round(7).ravel().tolist())

    img = rng.uniform(0, 1, size=(6, 5, 3))
    colour = dict(
        image=img.round(7).ravel().tolist(),
        brightness=dict(factor=1.3, expected=blend(img, 0, 1.3).ravel().tolist()),
        contrast=dict(factor=0.6, expected=blend(img, gray_of(img).mean(), 0.6).ravel().tolist()),
        saturation=dict(factor=1.7, expected=blend(img, gray_of(img)[..., None], 1.7).ravel().tolist()),
        hue=[dict(factor=f, expected=adjust_hue(img.round(7), f).ravel().tolist()) for f in (0.15, -0.3, 0.5)],
        grayscale=np.repeat(gray_of(img)[..., None], 3, axis=-1).ravel().tolist(),
    )
    gray1 = img[..., :1]
    colour["contrast_gray"] = dict(factor=1.4, image=gray1.round(7).ravel().tolist(),
                                   expected=blend(gray1.round(7), gray1.round(7).mean(), 1.4).ravel().tolist())
    blur_img = rng.uniform(0, 1, size=(9, 8, 3))
    blur = dict(image=blur_img.round(7).ravel().tolist(), height=9, width=8, kernel=5, sigma=0.9,
                expected=gaussian_blur(blur_img.round(7), 5, 0.9).ravel().tolist())
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    normalise = dict(mean=mean.tolist(), std=std.tolist(), expected=((img.round(7) - mean) / std).ravel().tolist())
    data = dict(generator="scripts/images_make_fixtures.py", source=b64(src), source_shape=list(src.shape),
                resize=resize, evaluation=evaluation, colour=colour, blur=blur, normalise=normalise)
    with open(os.path.join(OUT, "augment.json"), "w") as f:
        json.dump(data, f)
        f.write("\n")


if __name__ == "__main__":
    jpeg_fixtures()
    augment_fixtures()
