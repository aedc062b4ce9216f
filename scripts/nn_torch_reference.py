#!/usr/bin/env python3
"""PyTorch reference numbers for tiny ResNets, written as a Swift fixture for the NN tests:

    /tmp/torch-ref/bin/python scripts/nn_torch_reference.py > Tests/NNTests/Generated/TorchReference.swift

The networks are assembled from torchvision's own BasicBlock / Bottleneck classes with the stage widths
scaled (torchvision has no width multiplier; the wiring below is its `_make_layer`), so the numbers test
block structure, strides, padding and BatchNorm semantics, not just shapes. Weights, inputs and the loss
weights are closed-form (sines of the flat index in torchvision's layout), so the Swift test rebuilds
them without a weight file. For each network: one training-mode forward (features), the loss
L = sum(features * R) and its backward (each gradient summarised by its projection on a fixed sine
vector and its norm), the running statistics after that step, and an evaluation-mode forward.
The closed-form values are rounded to float32 (what the Swift side holds) and the network then runs
in float64, so the reference is exact to the digits printed (PyTorch's own float32 gradients differ
from it by up to 2.4e-5 on the ResNet-18 cases and 4e-4 on the ResNet-50 case).
Single-threaded, so a rerun on this machine reproduces the file exactly.
"""
import math
import sys

import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1


def wave(i, a, b):
    return math.sin(a * i + b)


class TinyResNet(nn.Module):
    """torchvision's ResNet without fc, widths (64, 128, 256, 512) * multiplier."""

    def __init__(self, block, counts, multiplier, stem, in_channels):
        super().__init__()
        widths = [max(1, round(w * multiplier)) for w in (64, 128, 256, 512)]
        self.inplanes = widths[0]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, widths[0], 7, 2, 3, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem == "imagenet" else nn.Identity()
        self.layer1 = self._make_layer(block, widths[0], counts[0], 1)
        self.layer2 = self._make_layer(block, widths[1], counts[1], 2)
        self.layer3 = self._make_layer(block, widths[2], counts[2], 2)
        self.layer4 = self._make_layer(block, widths[3], counts[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def _make_layer(self, block, planes, count, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, count)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


def fill_parameters(model, last_bn_scale=1.0):
    """Parameter k, element i (torchvision layout): weights sqrt(3/fan_in)*s, BN weights 1+s/4,
    biases s/4, with s = sin(0.7 i + 1.3 k + 0.5); each block's last BN weight then times
    `last_bn_scale` (a power of two, so exact in float32)."""
    with torch.no_grad():
        for k, (name, p) in enumerate(model.named_parameters()):
            flat = p.view(-1)
            is_bn = p.dim() == 1
            fan_in = p[0].numel() if p.dim() > 1 else 1
            for i in range(flat.numel()):
                s = wave(i, 0.7, 1.3 * k + 0.5)
                if not is_bn:
                    flat[i] = math.sqrt(3.0 / fan_in) * s
                elif name.endswith(".weight"):
                    flat[i] = 1 + s / 4
                else:
                    flat[i] = s / 4
            if name.endswith(".bn3.weight") or (name.endswith(".bn2.weight") and not hasattr(model.layer1[0], "bn3")):
                p.mul_(last_bn_scale)


def closed_form(shape, a, b):
    n = math.prod(shape)
    return torch.tensor([wave(i, a, b) for i in range(n)], dtype=torch.float32).view(*shape)


def projection(t, k):
    """(sum_i t_i * sin(0.53 i + 0.9 k + 0.1), ||t||) over the flat torchvision layout."""
    s = closed_form(list(t.shape), 0.53, 0.9 * k + 0.1).double()
    return float((t.double() * s).sum()), float(t.double().norm())


def fmt(v):
    return "%.10g" % v


def case(title, block, counts, stem, in_channels, batch, size, last_bn_scale=1.0):
    torch.manual_seed(0)
    model = TinyResNet(block, counts, 0.0625, stem, in_channels)
    fill_parameters(model, last_bn_scale)
    model.double().train()
    x = closed_form([batch, in_channels, size, size], 0.37, 0.2).double().requires_grad_(True)
    y = model(x)
    r = closed_form(list(y.shape), 0.91, 0.4).double()
    (y * r).sum().backward()
    out = ["/// %s" % title, "let torchReference%s = TorchReferenceCase(" % case.name(title)]
    out.append("    inputShape: [%d, %d, %d, %d]," % (batch, in_channels, size, size))
    out.append("    lastBatchNormScale: %s," % fmt(last_bn_scale))
    out.append("    features: [%s]," % ", ".join(fmt(v) for v in y.detach().view(-1).tolist()))
    p, n = projection(x.grad, -1)
    out.append("    inputGradient: (%s, %s)," % (fmt(p), fmt(n)))
    out.append("    parameterGradients: [")
    for k, (name, prm) in enumerate(model.named_parameters()):
        p, n = projection(prm.grad, k)
        out.append('        ("%s", %s, %s),' % (name, fmt(p), fmt(n)))
    out.append("    ],")
    out.append("    runningStatistics: [")
    for k, (name, buf) in enumerate(model.named_buffers()):
        if name.endswith("num_batches_tracked"):
            continue
        p, n = projection(buf, k)
        out.append('        ("%s", %s, %s),' % (name, fmt(p), fmt(n)))
    out.append("    ],")
    model.eval()
    with torch.no_grad():
        ye = model(x)
    out.append("    evaluationFeatures: [%s]" % ", ".join(fmt(v) for v in ye.view(-1).tolist()))
    out.append(")")
    return "\n".join(out)


case.name = lambda title: title.split(":")[0]


def main():
    torch.set_num_threads(1)
    parts = ["// Generated by scripts/nn_torch_reference.py (torch %s); do not edit." % torch.__version__.split("+")[0], ""]
    parts.append(case("ResNet18Cifar: resnet18 blocks, CIFAR stem, width 1/16, 1 channel, 3 images of 8x8",
                      BasicBlock, [2, 2, 2, 2], "cifar", 1, 3, 8))
    parts.append("")
    parts.append(case("ResNet18ImageNet: resnet18 blocks, ImageNet stem, width 1/16, 3 channels, 2 images of 64x64",
                      BasicBlock, [2, 2, 2, 2], "imagenet", 3, 2, 64))
    parts.append("")
    # Each block's last BN at a quarter (blocks near the identity, as in trained networks): with the
    # plain closed form, this tiny ResNet-50 amplifies float32 rounding so much that PyTorch's own
    # float32 gradients differ from its float64 ones by 50%; scaled, by 4e-4.
    parts.append(case("ResNet50ImageNet: resnet50 blocks, ImageNet stem, width 1/16, 3 channels, 4 images of 64x64",
                      Bottleneck, [3, 4, 6, 3], "imagenet", 3, 4, 64, last_bn_scale=0.25))
    parts.append("")
    sys.stdout.write("\n".join(parts))


if __name__ == "__main__":
    main()
