#!/usr/bin/env python3
"""The PyTorch side of `npm run bench:train`: the same training step as scripts/tf/step.ts, done the way
the original Zero-DCE code does it (lowlight_train.py, Myloss.py, model.py): DCE-Net or the Zero-DCE++
lite net, the four zero-reference losses with their original weights, clip_grad_norm_ 0.1, Adam with
L2 weight decay 1e-4. Prints one JSON line per architecture: the seconds of each timed step.

Usage: python3 scripts/bench-train-torch.py --archs dce,lite --size 128 --batch 8 --steps 10 --warmup 2 --threads 1
Needs torch (Debian: apt install python3-torch; or pip). No data: seeded random dark batches, as the
TF.js side uses, so both time the step and nothing else.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Separable(nn.Module):
    """Zero-DCE++'s CSDN_Tem: depthwise 3x3 then pointwise 1x1."""

    def __init__(self, cin, cout):
        super().__init__()
        self.depth = nn.Conv2d(cin, cin, 3, 1, 1, groups=cin)
        self.point = nn.Conv2d(cin, cout, 1, 1, 0)

    def forward(self, x):
        return self.point(self.depth(x))


class Net(nn.Module):
    """DCE-Net's graph: 7 convolutions of 32 channels, skip concatenations, tanh. dce: plain 3x3
    convolutions and 8 x 3 curve maps (Zero-DCE); lite: separable ones and one 3-channel map (Zero-DCE++,
    scale factor 1, as trained)."""

    def __init__(self, arch):
        super().__init__()
        conv = (lambda cin, cout: nn.Conv2d(cin, cout, 3, 1, 1)) if arch == "dce" else Separable
        n = 32
        self.e1 = conv(3, n)
        self.e2 = conv(n, n)
        self.e3 = conv(n, n)
        self.e4 = conv(n, n)
        self.e5 = conv(2 * n, n)
        self.e6 = conv(2 * n, n)
        self.e7 = conv(2 * n, 24 if arch == "dce" else 3)

    def forward(self, x):
        x1 = F.relu(self.e1(x))
        x2 = F.relu(self.e2(x1))
        x3 = F.relu(self.e3(x2))
        x4 = F.relu(self.e4(x3))
        x5 = F.relu(self.e5(torch.cat([x3, x4], 1)))
        x6 = F.relu(self.e6(torch.cat([x2, x5], 1)))
        return torch.tanh(self.e7(torch.cat([x1, x6], 1)))


def enhance(x, r, iterations=8):
    maps = torch.split(r, 3, dim=1) if r.shape[1] == 3 * iterations else [r] * iterations
    for m in maps:
        x = x + m * (x * x - x)
    return x


def loss_color(e):
    mr, mg, mb = torch.split(torch.mean(e, [2, 3], keepdim=True), 1, dim=1)
    drg, drb, dgb = (mr - mg) ** 2, (mr - mb) ** 2, (mb - mg) ** 2
    return torch.mean(torch.sqrt(drg ** 2 + drb ** 2 + dgb ** 2))


_KERNELS = None


def loss_spa(org, e):
    global _KERNELS
    if _KERNELS is None:
        ks = [[[0, 0, 0], [-1, 1, 0], [0, 0, 0]], [[0, 0, 0], [0, 1, -1], [0, 0, 0]], [[0, -1, 0], [0, 1, 0], [0, 0, 0]], [[0, 0, 0], [0, 1, 0], [0, -1, 0]]]
        _KERNELS = [torch.tensor(k, dtype=torch.float32).view(1, 1, 3, 3) for k in ks]
    po = F.avg_pool2d(torch.mean(org, 1, keepdim=True), 4)
    pe = F.avg_pool2d(torch.mean(e, 1, keepdim=True), 4)
    total = 0
    for k in _KERNELS:
        total = total + (F.conv2d(po, k, padding=1) - F.conv2d(pe, k, padding=1)) ** 2
    return torch.mean(total)


def loss_exp(e, patch=16, level=0.6):
    return torch.mean((F.avg_pool2d(torch.mean(e, 1, keepdim=True), patch) - level) ** 2)


def loss_tv(r):
    b, _, h, w = r.shape
    h_tv = torch.sum((r[:, :, 1:, :] - r[:, :, :-1, :]) ** 2)
    w_tv = torch.sum((r[:, :, :, 1:] - r[:, :, :, :-1]) ** 2)
    return 2 * (h_tv / ((h - 1) * w) + w_tv / (h * (w - 1))) / b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--archs", default="dce,lite")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    for arch in a.archs.split(","):
        net = Net(arch)
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.data.normal_(0.0, 0.02)
        tv_w = 200 if arch == "dce" else 1600
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
        times = []
        for step in range(a.warmup + a.steps):
            x = torch.rand(a.batch, 3, a.size, a.size) * 0.3
            t = time.perf_counter()
            r = net(x)
            e = enhance(x, r)
            loss = tv_w * loss_tv(r) + loss_spa(x, e) + 5 * loss_color(e) + 10 * loss_exp(e)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 0.1)
            opt.step()
            dt = time.perf_counter() - t
            if step >= a.warmup:
                times.append(dt)
        params = sum(p.numel() for p in net.parameters())
        print(json.dumps({"arch": arch, "params": params, "threads": a.threads, "torch": torch.__version__, "seconds": times}), flush=True)


if __name__ == "__main__":
    main()
