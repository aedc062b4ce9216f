#!/usr/bin/env python3
"""Converts a PyTorch ResNet checkpoint to a safetensors file our commands read (simclr knn, embed,
finetune --weights): torchvision's names, float32, the encoder only, and `simclr.model` metadata
(arch, width, stem, input channels, image size, normalisation) so the input pipeline is known.

    python scripts/convert_torch_checkpoint.py IN.pth OUT.safetensors [--arch resnet50]
    python scripts/convert_torch_checkpoint.py --torchvision-imagenet resnet50 OUT.safetensors

Needs torch only (not torchvision, not safetensors).

IN may be a plain state dict or any dict that nests one (under `state_dict`, `model`, `encoder`,
`backbone`, `net`, ... at any depth), with wrapper prefixes before torchvision's names (`module.`,
`backbone.`, `encoder.`, `model.`, `encoder_q.`, ... in any combination). The converter finds the
nested dict and the prefix that hold the most ResNet tensors (`conv1`, `bn1`, `layer1`-`layer4`),
keeps those under their torchvision names and drops the rest (a classifier `fc`, projection
heads, momentum encoders, optimiser state), saying what it dropped. The architecture, width, stem
and input channels are read from the tensors; `--arch` only checks them.

The normalisation is recorded as given by --normalize: `imagenet` (default) suits torchvision's
models and most PyTorch-trained SimCLR/MoCo/BYOL models; SimCLR's own TensorFlow checkpoints
converted to PyTorch (e.g. resnet50-1x.pth) take images in [0, 1] without normalisation: use
`--normalize none` for them.

--torchvision-imagenet ARCH saves torchvision's ImageNet-pretrained weights for ARCH (resnet18,
resnet34, resnet50; --torchvision-weights IMAGENET1K_V2 for resnet50's newer ones) from torch's hub
cache ($TORCH_HOME/hub/checkpoints, where torchvision keeps what it downloads); nothing is
downloaded here.

Checkpoints are read with `torch.load(weights_only=True)`; one that pickles other objects (an
argparse Namespace, say) needs --unsafe-pickle, which runs the pickle's code: only for files you trust.
"""
import argparse
import json
import os
import re
import sys

import torch

ROOTS = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# Prefixes whose tensors belong to a second copy of the encoder (MoCo's key encoder, BYOL's target,
# DINO's teacher): never chosen over the online encoder when both are present.
SECONDARY = ("momentum", "target", "teacher", "encoder_k", "_k.", "ema")


def fail(message):
    print(f"convert_torch_checkpoint: {message}", file=sys.stderr)
    sys.exit(1)


def tensor_dicts(obj, path="", depth=0):
    """Every dict reachable from obj (at most 4 levels down) holding tensors, with its key path."""
    if not isinstance(obj, dict) or depth > 4:
        return []
    found = []
    if any(isinstance(v, torch.Tensor) for v in obj.values()):
        found.append((path or "(top level)", {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}))
    for key, value in obj.items():
        if isinstance(value, dict):
            found += tensor_dicts(value, f"{path}.{key}" if path else str(key), depth + 1)
    return found


def split_name(name):
    """(prefix, torchvision name) where the torchvision name starts at the first ResNet root
    component, or (name, None) when there is none (a projection head, a classifier `fc`)."""
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part in ROOTS and i + 1 < len(parts):
            return ".".join(parts[:i]) + ("." if i else ""), ".".join(parts[i:])
    return name, None


def encoder_tensors(state):
    """The tensors of the encoder in `state` under torchvision names: the prefix with the most ResNet
    tensors wins (a secondary copy only when it is the only one). Returns (tensors, prefix, dropped)."""
    groups = {}
    for name, tensor in state.items():
        prefix, short = split_name(name)
        if short is not None:
            groups.setdefault(prefix, {})[short] = tensor
    if not groups:
        return {}, None, sorted(state)

    def rank(prefix):
        secondary = any(s in prefix for s in SECONDARY)
        return (not secondary, len(groups[prefix]), -len(prefix))

    prefix = max(groups, key=rank)
    kept = groups[prefix]
    dropped = sorted(n for n in state if not (n.startswith(prefix) and split_name(n) == (prefix, n[len(prefix):])))
    return kept, prefix, dropped


def describe(tensors, path):
    """arch, width, stem and input channels of a ResNet from its torchvision names and shapes."""
    conv1 = tensors.get("conv1.weight")
    if conv1 is None or conv1.dim() != 4:
        fail(f"{path}: no conv1.weight of 4 dimensions: not a ResNet encoder")
    kernel = conv1.shape[2]
    stem = {7: "imagenet", 3: "cifar"}.get(kernel)
    if stem is None:
        fail(f"{path}: conv1.weight has a {kernel}x{kernel} kernel; expected 7x7 (ImageNet stem) or 3x3 (CIFAR stem)")
    blocks = {int(n.split(".")[1]) for n in tensors if n.startswith("layer3.")}
    if "layer1.0.conv3.weight" in tensors:
        arch = "resnet50"
    elif len(blocks) == 2:
        arch = "resnet18"
    elif len(blocks) == 6:
        arch = "resnet34"
    else:
        fail(f"{path}: not a ResNet-18, -34 or -50 (basic blocks, {len(blocks)} in layer3)")
    return arch, conv1.shape[0] / 64, stem, conv1.shape[1]


def expected_names(arch):
    """torchvision's parameter and buffer names of ARCH without its fc."""
    counts = {"resnet18": [2, 2, 2, 2], "resnet34": [3, 4, 6, 3], "resnet50": [3, 4, 6, 3]}[arch]
    convs = 3 if arch == "resnet50" else 2
    bn = ["weight", "bias", "running_mean", "running_var"]
    names = ["conv1.weight"] + [f"bn1.{s}" for s in bn]
    for stage, count in enumerate(counts, start=1):
        for block in range(count):
            p = f"layer{stage}.{block}."
            for c in range(1, convs + 1):
                names += [f"{p}conv{c}.weight"] + [f"{p}bn{c}.{s}" for s in bn]
            if block == 0 and (stage > 1 or arch == "resnet50"):
                names += [f"{p}downsample.0.weight"] + [f"{p}downsample.1.{s}" for s in bn]
    return names


def first_line(error):
    """The first line of an error's text without terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip().splitlines()[0]


def load_checkpoint(path, unsafe):
    try:
        return torch.load(path, map_location="cpu", weights_only=not unsafe)
    except FileNotFoundError:
        fail(f"{path} does not exist")
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a file it cannot unpickle
        if unsafe:
            fail(f"cannot read {path}: {error}")
        fail(f"cannot read {path} with weights_only=True ({first_line(error)}); if you trust the file, "
             "add --unsafe-pickle")


# torchvision's ImageNet weights (torchvision.models.ResNet*_Weights), by the file names torch's
# hub cache keeps them under; listed here so that converting needs torch alone.
TORCHVISION_IMAGENET = {
    ("resnet18", "IMAGENET1K_V1"): "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    ("resnet34", "IMAGENET1K_V1"): "https://download.pytorch.org/models/resnet34-b627a593.pth",
    ("resnet50", "IMAGENET1K_V1"): "https://download.pytorch.org/models/resnet50-0676ba61.pth",
    ("resnet50", "IMAGENET1K_V2"): "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
}


def torchvision_imagenet(arch, version):
    """torchvision's ImageNet weights for ARCH from torch's hub cache, or a clear failure."""
    url = TORCHVISION_IMAGENET.get((arch, version))
    if url is None:
        known = ", ".join(f"{a} {v}" for a, v in TORCHVISION_IMAGENET)
        fail(f"no torchvision ImageNet weights {version} for {arch} (known: {known})")
    cached = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))
    if not os.path.exists(cached):
        fail(f"torchvision's ImageNet weights for {arch} ({version}) are not on this machine: expected {cached}. "
             f"Download {url} where there is internet and copy it there (or convert the .pth directly: "
             f"convert_torch_checkpoint.py FILE.pth OUT.safetensors --arch {arch})")
    return load_checkpoint(cached, unsafe=False), cached


def write_safetensors(tensors, metadata, path):
    """A safetensors file (header JSON sorted, tensors in name order, so the output is reproducible)."""
    dtypes = {torch.float32: "F32", torch.int64: "I64"}
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for data in chunks:
            f.write(data)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("files", nargs="+", metavar="IN.pth OUT.safetensors",
                        help="the checkpoint and the file to write (only OUT with --torchvision-imagenet)")
    parser.add_argument("--arch", choices=["resnet18", "resnet34", "resnet50"],
                        help="check that the checkpoint holds this architecture")
    parser.add_argument("--normalize", default="imagenet",
                        help="imagenet (default), none, or MEAN/STD with 1 or 3 comma-separated values each")
    parser.add_argument("--image-size", type=int, help="input side (default 224 for the ImageNet stem, 32 for CIFAR's)")
    parser.add_argument("--torchvision-imagenet", metavar="ARCH", help="convert torchvision's own ImageNet weights")
    parser.add_argument("--torchvision-weights", default="IMAGENET1K_V1",
                        help="which torchvision weights (IMAGENET1K_V1 or IMAGENET1K_V2)")
    parser.add_argument("--unsafe-pickle", action="store_true",
                        help="read checkpoints that pickle more than tensors (runs the pickle's code)")
    args = parser.parse_args()

    if args.torchvision_imagenet:
        if len(args.files) != 1:
            parser.error("with --torchvision-imagenet give only OUT.safetensors")
        out = args.files[0]
        checkpoint, source = torchvision_imagenet(args.torchvision_imagenet, args.torchvision_weights)
        args.arch = args.arch or args.torchvision_imagenet
    else:
        if len(args.files) != 2:
            parser.error("give IN.pth and OUT.safetensors")
        source, out = args.files
        checkpoint = load_checkpoint(source, args.unsafe_pickle)

    candidates = [(path, *encoder_tensors(state)) for path, state in tensor_dicts(checkpoint)]
    candidates = [c for c in candidates if c[1]]
    if not candidates:
        fail(f"{source} holds no ResNet tensors (conv1, bn1, layer1-4) at any level")
    path, tensors, prefix, dropped = max(candidates, key=lambda c: len(c[1]))
    if path != "(top level)":
        print(f"using the tensors under '{path}'")
    if prefix:
        print(f"removed the prefix '{prefix}' from {len(tensors)} tensor names")
    if dropped:
        shown = ", ".join(dropped[:6]) + (f" and {len(dropped) - 6} more" if len(dropped) > 6 else "")
        print(f"dropped {len(dropped)} tensor(s) that are not the encoder's: {shown}")

    arch, width, stem, channels = describe(tensors, source)
    if args.arch and args.arch != arch:
        fail(f"--arch {args.arch}, but {source} holds a {arch}")
    missing = [n for n in expected_names(arch) if n not in tensors]
    if missing:
        fail(f"{source}: the {arch} lacks {len(missing)} tensor(s): {', '.join(missing[:6])}"
             + (" ..." if len(missing) > 6 else ""))

    if args.normalize == "imagenet":
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    elif args.normalize == "none":
        mean, std = [], []
    else:
        try:
            mean, std = ([float(v) for v in part.split(",")] for part in args.normalize.split("/"))
        except ValueError:
            parser.error("--normalize takes imagenet, none or MEAN/STD (e.g. 0.5,0.5,0.5/0.25,0.25,0.25)")
        if len(mean) != len(std) or len(mean) not in (1, channels) or min(std) <= 0:
            parser.error(f"--normalize needs 1 or {channels} means and as many positive stds")
    size = args.image_size or (224 if stem == "imagenet" else 32)
    spec = {"arch": arch, "width": width, "stem": stem, "inputChannels": channels, "imageSize": size,
            "mean": mean, "std": std}
    converted = {}
    for name, t in tensors.items():
        if name.endswith("num_batches_tracked"):
            converted[name] = t.detach().to(torch.int64).reshape([])
        elif t.is_floating_point():
            converted[name] = t.detach().to(torch.float32)
        else:
            fail(f"{source}: {name} holds {t.dtype}, not floating point")
    metadata = {"format": "pt", "simclr.kind": "encoder", "simclr.model": json.dumps(spec, sort_keys=True),
                "simclr.source": os.path.basename(source)}
    write_safetensors(converted, metadata, out)
    print(f"wrote {out}: {arch}, width {width:g}, {stem} stem, {channels} channel(s), {size}x{size} inputs, "
          f"normalisation {args.normalize}")


if __name__ == "__main__":
    main()
