"""Times PyTorch training steps that mirror bench/versus-pytorch.ts, for a side-by-side comparison.

Usage: pytorch_steps.py MODEL THREADS STEPS, with MODEL one of seed, large, mlp. Prints one JSON
object with the median milliseconds per step. Run it with OMP_WAIT_POLICY=PASSIVE: with spin-waiting,
two threads ran slower than one on a 2-core machine.
"""

import json
import math
import sys
import time

import torch
from torch import nn


class Classifier(nn.Module):
    """Embedding plus sinusoidal positions, post-norm encoder layers, mean pooling, a linear head."""

    def __init__(self, vocab, d_model, heads, layers, classes, max_len, ff):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d_model)
        position = torch.arange(max_len, dtype=torch.float32)[:, None]
        div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div)
        pe[:, 1::2] = torch.cos(position * div)
        self.register_buffer("pe", pe, persistent=False)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=ff, dropout=0.0, batch_first=True) for _ in range(layers)
        )
        self.head = nn.Linear(d_model, classes)

    def forward(self, tokens):
        x = self.embedding(tokens) + self.pe[: tokens.shape[1]]
        for layer in self.layers:
            x = layer(x)
        return self.head(x.mean(dim=1))


def transformer_case(vocab, d_model, heads, layers, classes, seq, batch, ff):
    model = Classifier(vocab, d_model, heads, layers, classes, seq, ff)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    tokens = torch.randint(0, vocab, (batch, seq))
    labels = torch.randint(0, classes, (batch,))
    return model, optimizer, tokens, labels


def mlp_case():
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    return model, optimizer, torch.randn(256, 784), torch.randint(0, 10, (256,))


CASES = {
    "seed": lambda: transformer_case(20, 32, 4, 2, 3, 8, 150, 64),
    "large": lambda: transformer_case(1000, 256, 8, 4, 2, 64, 64, 1024),
    "mlp": mlp_case,
}


def main():
    name, threads, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, optimizer, inputs, labels = CASES[name]()
    loss_fn = nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    print(json.dumps({"model": name, "threads": threads, "median_ms": times[len(times) // 2], "steps": steps}))


if __name__ == "__main__":
    main()
