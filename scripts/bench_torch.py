#!/usr/bin/env python3
"""Times one training step (forward + backward) of LeNet or cifar10_quick in PyTorch, as condense's
`time` verb does for its own engine, so that both can be compared side by side in one run.
Usage: bench_torch.py lenet|cifar10_quick THREADS ITERATIONS  -> prints forward, backward, both in ms."""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.ip1 = nn.Linear(800, 500)
        self.ip2 = nn.Linear(500, 10)

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 2, 2)
        x = F.max_pool2d(self.conv2(x), 2, 2)
        return self.ip2(F.relu(self.ip1(x.flatten(1))))


class Cifar10Quick(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 32, 5, padding=2)
        self.conv3 = nn.Conv2d(32, 64, 5, padding=2)
        self.ip1 = nn.Linear(64 * 4 * 4, 64)
        self.ip2 = nn.Linear(64, 10)

    def forward(self, x):
        # Caffe rounds pooled sizes up: ceil_mode keeps the shapes equal to condense's.
        x = F.relu(F.max_pool2d(self.conv1(x), 3, 2, ceil_mode=True))
        x = F.avg_pool2d(F.relu(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.avg_pool2d(F.relu(self.conv3(x)), 3, 2, ceil_mode=True)
        return self.ip2(self.ip1(x.flatten(1)))


def main():
    name, threads, iterations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(1701)
    if name == "lenet":
        model, x = LeNet(), torch.rand(64, 1, 28, 28)
    else:
        model, x = Cifar10Quick(), torch.rand(100, 3, 32, 32)
    labels = torch.zeros(x.shape[0], dtype=torch.long)
    forward_s = backward_s = 0.0
    for step in range(iterations + 1):
        model.zero_grad(set_to_none=False)
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), labels)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        if step > 0:  # the first step warms up
            forward_s += t1 - t0
            backward_s += t2 - t1
    n = iterations
    print("%.3f %.3f %.3f" % (forward_s / n * 1e3, backward_s / n * 1e3, (forward_s + backward_s) / n * 1e3))


if __name__ == "__main__":
    main()
