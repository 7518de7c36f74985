"""PyTorch's side of `npm run bench:cnn`: the same ThreeLayerConvNet, data, batches and optimizer.

Reads a JSON job on argv[1]: the Fashion-MNIST directory, the number of iterations, the batch size and
the learning rate. Preprocessing is the benchmark's: pixels / 255 minus the mean training image. For
float32 and float64 it first finds the faster thread count (1 or 2, by timing a few iterations), then
trains with it and times one convolution forward+backward on the benchmark's shapes. Prints one JSON
object on stdout.
"""
import gzip
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn


def read_idx(path, offset):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return np.frombuffer(data, dtype=np.uint8, offset=offset)


def find(directory, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(directory, name)):
            return os.path.join(directory, name)
    raise FileNotFoundError(os.path.join(directory, stem))


def three_layer_convnet(dtype):
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 32, 7, padding=3),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(32 * 14 * 14, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )
    return net.to(dtype)


def train(x, y, order, job, dtype, iterations):
    net = three_layer_convnet(dtype)
    opt = torch.optim.Adam(net.parameters(), lr=job["learningRate"])
    loss_fn = nn.CrossEntropyLoss()
    bs = job["batchSize"]
    t0 = time.perf_counter()
    for it in range(iterations):
        idx = order[it * bs : (it + 1) * bs]
        xb, yb = x[idx], y[idx]
        opt.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0, net


def accuracy(net, x, y):
    with torch.no_grad():
        return float((net(x).argmax(1) == y).double().mean())


def conv_ms(shape_x, shape_w, pad, dtype, reps=7):
    x = torch.randn(*shape_x, dtype=dtype, requires_grad=True)
    w = torch.randn(*shape_w, dtype=dtype, requires_grad=True)
    b = torch.randn(shape_w[0], dtype=dtype, requires_grad=True)
    times = []
    for r in range(reps + 1):
        t = time.perf_counter()
        out = torch.nn.functional.conv2d(x, w, b, padding=pad)
        out.backward(torch.ones_like(out))
        if r > 0:
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main():
    job = json.loads(sys.argv[1])
    d = job["dir"]
    xs = read_idx(find(d, "train-images-idx3-ubyte"), 16).reshape(-1, 1, 28, 28).astype(np.float64) / 255.0
    ys = read_idx(find(d, "train-labels-idx1-ubyte"), 8).astype(np.int64)
    xt = read_idx(find(d, "t10k-images-idx3-ubyte"), 16).reshape(-1, 1, 28, 28).astype(np.float64) / 255.0
    yt = read_idx(find(d, "t10k-labels-idx1-ubyte"), 8).astype(np.int64)
    mean = xs.mean(axis=0, keepdims=True)
    xs -= mean
    xt -= mean
    rng = np.random.default_rng(0)
    order = torch.from_numpy(rng.integers(0, len(xs), size=job["iterations"] * job["batchSize"]))
    result = {"torch": torch.__version__, "runs": []}
    for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        x = torch.from_numpy(xs).to(dtype)
        y = torch.from_numpy(ys)
        probe = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            probe[threads], _ = train(x, y, order, job, dtype, min(30, job["iterations"]))
        threads = min(probe, key=probe.get)
        torch.set_num_threads(threads)
        seconds, net = train(x, y, order, job, dtype, job["iterations"])
        run = {
            "dtype": name,
            "threads": threads,
            "seconds": seconds,
            "testAccuracy": accuracy(net, torch.from_numpy(xt).to(dtype), torch.from_numpy(yt)),
            "convMs": [conv_ms(c["x"], c["w"], c["pad"], dtype) for c in job["convShapes"]],
        }
        result["runs"].append(run)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
