#!/usr/bin/env python3
"""Writes the fixtures of the torchvision parity tests (Tests/TrainingTests/ParityTests.swift):

    /path/to/venv/bin/python scripts/make_parity_fixture.py [--out Tests/TrainingTests/Fixtures]

Three small ResNets are built from torchvision's own classes (`torchvision.models.resnet.ResNet`'s
`_make_layer` and `forward`, its `BasicBlock` and `Bottleneck`) with every width scaled down so the
weights stay small, random weights from a fixed seed, random BatchNorm affine parameters and running
statistics accumulated over a few random batches in training mode. Each is saved as torchvision
names under a wrapper prefix, as other tools write them:

- parity_resnet18.safetensors: resnet18 at width 1/8, ImageNet stem, 3 channels, with a 10-class
  `fc`, prefix `module.`, no metadata (the tests give the network on the command line);
- parity_resnet50.safetensors: resnet50 (bottlenecks, stride on the 3x3) at width 1/16, ImageNet
  stem, with a 5-class `fc`, prefix `backbone.`, `simclr.model` metadata as
  scripts/convert_torch_checkpoint.py writes it;
- parity_resnet18_cifar_gray.safetensors: resnet18 at width 1/16 with the CIFAR stem (3x3 stride-1
  `conv1`, no max-pool, as community SimCLR CIFAR models replace them), 1 input channel, no `fc`,
  prefix `module.encoder.`, no metadata.

parity_io.safetensors holds, for each, a few random inputs (`<key>.input`, channels-last
[N, H, W, C] as our encoder takes them) and torchvision's pooled features in evaluation mode
(`<key>.features`, [N, F]); its metadata lists the models (`models`, JSON) and the versions used.
Run single-threaded, the script reproduces its files byte for byte (checked: torch 2.15.0,
torchvision 0.29.2, safetensors 0.8.0).
"""
import argparse
import json
import os

import safetensors
import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class NarrowResNet(ResNet):
    """torchvision's ResNet with stage widths round(64 w), round(128 w), round(256 w), round(512 w)
    (our `--width`), and optionally the CIFAR stem. Only __init__ differs from torchvision's; the
    blocks, `_make_layer` and `forward` are torchvision's own."""

    def __init__(self, block, layers, width, stem, in_channels, num_classes):
        nn.Module.__init__(self)
        widths = [max(1, round(w * width)) for w in (64, 128, 256, 512)]
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = widths[0]
        self.dilation = 1
        self.groups = 1
        self.base_width = 64
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3] * block.expansion, num_classes) if num_classes else nn.Identity()


MODELS = [
    dict(key="resnet18", file="parity_resnet18.safetensors", arch="resnet18", block=BasicBlock,
         layers=[2, 2, 2, 2], width=0.125, stem="imagenet", inputChannels=3, classes=10, prefix="module.",
         metadata=False, batch=3, size=40),
    dict(key="resnet50", file="parity_resnet50.safetensors", arch="resnet50", block=Bottleneck,
         layers=[3, 4, 6, 3], width=0.0625, stem="imagenet", inputChannels=3, classes=5, prefix="backbone.",
         metadata=True, batch=2, size=36),
    dict(key="resnet18_cifar_gray", file="parity_resnet18_cifar_gray.safetensors", arch="resnet18",
         block=BasicBlock, layers=[2, 2, 2, 2], width=0.0625, stem="cifar", inputChannels=1, classes=0,
         prefix="module.encoder.", metadata=False, batch=2, size=12),
]


def save_file(tensors, path, metadata):
    """safetensors.torch.save_file with a reproducible header: the library writes the metadata in
    hash-map order, which changes from run to run. Tensors go in name order, the header is JSON
    with sorted keys padded with spaces to a multiple of 8 bytes, as the format specifies."""
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
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for data in chunks:
            f.write(data)


def build(spec, seed):
    torch.manual_seed(seed)
    model = NarrowResNet(spec["block"], spec["layers"], spec["width"], spec["stem"], spec["inputChannels"],
                         spec["classes"])
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
                m.momentum = None  # running statistics: the plain average over the batches below
        model.train()
        for step in range(3):
            x = torch.randn(4, spec["inputChannels"], spec["size"], spec["size"]) * (1 + 0.5 * step) + 0.3 * step
            model(x)
    model.eval()
    return model


def model_spec_json(spec):
    """The `simclr.model` metadata (our ModelSpec), as scripts/convert_torch_checkpoint.py writes it."""
    return json.dumps({"arch": spec["arch"], "width": spec["width"], "stem": spec["stem"],
                       "inputChannels": spec["inputChannels"], "imageSize": spec["size"],
                       "mean": IMAGENET_MEAN, "std": IMAGENET_STD}, sort_keys=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "TrainingTests", "Fixtures"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)

    io = {}
    listed = []
    for index, spec in enumerate(MODELS):
        model = build(spec, seed=1000 + index)
        tensors = {spec["prefix"] + name: t.detach().contiguous().clone() for name, t in model.state_dict().items()}
        metadata = {"format": "pt"}
        if spec["metadata"]:
            metadata["simclr.model"] = model_spec_json(spec)
        save_file(tensors, os.path.join(args.out, spec["file"]), metadata=metadata)

        generator = torch.Generator().manual_seed(2000 + index)
        x = torch.randn(spec["batch"], spec["inputChannels"], spec["size"], spec["size"], generator=generator)
        model.fc = nn.Identity()
        with torch.no_grad():
            features = model(x)
        io[spec["key"] + ".input"] = x.permute(0, 2, 3, 1).contiguous()
        io[spec["key"] + ".features"] = features.contiguous()
        listed.append({k: spec[k] for k in ("key", "file", "arch", "width", "stem", "inputChannels", "prefix",
                                            "metadata", "classes")} | {"imageSize": spec["size"]})

    save_file(io, os.path.join(args.out, "parity_io.safetensors"), metadata={
        "models": json.dumps(listed, sort_keys=True),
        "torch": torch.__version__, "torchvision": torchvision.__version__, "safetensors": safetensors.__version__,
        "script": "scripts/make_parity_fixture.py"})


if __name__ == "__main__":
    main()
