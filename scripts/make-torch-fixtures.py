#!/usr/bin/env python3
"""Write PyTorch reference values for the nn parity tests to tests/fixtures/torch/*.json.

Run from the repository root with a Python that has torch:
    /usr/bin/python3 scripts/make-torch-fixtures.py
Each file contains fixed parameters and inputs, PyTorch's outputs, and the gradients of
sum(output * cotangent) with respect to the parameters (PyTorch names) and the float inputs.

Parameters and inputs are drawn in float32, so they are exact in either precision, and PyTorch
then computes in float64: the stored outputs are the exact results for those float32 values, free
of PyTorch's own float32 rounding, and the tests can check nabla-ts in float32 and in float64.
"""

import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT_DIR = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "torch")


def encode(t):
    t = t.detach()
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "data": t.reshape(-1).tolist()}


def randomize(module, generator):
    """Replace every parameter, biases included, so that no value is a default of either library."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.5)


def params_and_grads(module):
    params = {name: encode(p) for name, p in module.named_parameters()}
    grads = {name: encode(p.grad) for name, p in module.named_parameters()}
    return params, grads


def write(name, record):
    record["torch_version"] = torch.__version__
    with open(os.path.join(OUT_DIR, f"{name}.json"), "w") as f:
        json.dump(record, f)
    print(f"wrote {name}.json")


def module_case(name, module, inputs, run, generator, extra=None):
    """Run `run(module, inputs)` in float64 and record outputs and gradients of sum(output * cotangent)."""
    randomize(module, generator)
    module.double()
    inputs = {k: v.double() if v.is_floating_point() else v for k, v in inputs.items()}
    float_inputs = {k: v.requires_grad_(True) for k, v in inputs.items() if v.dtype == torch.float64}
    outputs = run(module, inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    cotangent = torch.randn(outputs[0].shape, generator=generator).double()
    (outputs[0] * cotangent).sum().backward()
    params, grads = params_and_grads(module)
    record = {
        "params": params,
        "inputs": {k: encode(v) for k, v in inputs.items()},
        "cotangent": encode(cotangent),
        "outputs": [encode(o) for o in outputs],
        "param_grads": grads,
        "input_grads": {k: encode(v.grad) for k, v in float_inputs.items()},
    }
    record.update(extra or {})
    write(name, record)


def attention_cases(g):
    q = torch.randn(2, 4, 8, generator=g)
    kv = torch.randn(2, 5, 8, generator=g)
    padding = torch.tensor([[False, False, False, True, True], [False, True, False, False, False]])
    allowed = torch.rand(4, 5, generator=g) > 0.3
    allowed[:, 0] = True  # every query keeps at least one key, so no row is fully masked
    float_mask = torch.randn(4, 5, generator=g).double()

    def run(options):
        def inner(m, x):
            return m(x["query"], x["key"], x["value"], need_weights=True, average_attn_weights=True, **options)
        return inner

    inputs = lambda: {"query": q.clone(), "key": kv.clone(), "value": (kv * 0.7 + 0.1).clone()}
    module_case("mha_plain", nn.MultiheadAttention(8, 2, batch_first=True), inputs(), run({}), g)
    module_case("mha_key_padding", nn.MultiheadAttention(8, 2, batch_first=True), inputs(), run({"key_padding_mask": padding}), g,
                {"key_padding_mask": encode(padding)})
    module_case("mha_bool_attn_mask", nn.MultiheadAttention(8, 2, batch_first=True), inputs(), run({"attn_mask": ~allowed}), g,
                {"attn_mask": encode(~allowed)})
    module_case("mha_float_attn_mask", nn.MultiheadAttention(8, 2, batch_first=True), inputs(),
                run({"attn_mask": float_mask, "key_padding_mask": padding}), g,
                {"attn_mask": encode(float_mask), "key_padding_mask": encode(padding)})


def encoder_cases(g):
    x = torch.randn(2, 5, 8, generator=g)
    padding = torch.tensor([[False, False, False, False, True], [False, False, True, True, False]])
    for name, norm_first, activation in [("encoder_post_norm", False, "relu"), ("encoder_norm_first", True, "gelu")]:
        layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation=activation,
                                           batch_first=True, norm_first=norm_first)
        module_case(name, layer, {"src": x.clone()}, lambda m, i: m(i["src"], src_key_padding_mask=padding), g,
                    {"src_key_padding_mask": encode(padding), "norm_first": norm_first, "activation": activation})


def cross_entropy_cases(g):
    logits = torch.randn(6, 5, generator=g).double()
    indices = torch.tensor([0, 3, 4, 1, 2, 3])
    probabilities = torch.softmax(torch.randn(6, 5, generator=g), dim=-1).double()
    ignored = torch.tensor([0, -100, 4, 1, -100, 3])
    cases = [
        ("indices", indices, {}),
        ("indices_sum", indices, {"reduction": "sum"}),
        ("indices_none", indices, {"reduction": "none"}),
        ("indices_smoothing", indices, {"label_smoothing": 0.1}),
        ("indices_ignore", ignored, {"ignore_index": -100}),
        ("indices_ignore_smoothing", ignored, {"ignore_index": -100, "label_smoothing": 0.2}),
        ("probabilities", probabilities, {}),
        ("probabilities_smoothing", probabilities, {"label_smoothing": 0.1}),
    ]
    records = []
    for name, target, options in cases:
        x = logits.clone().requires_grad_(True)
        loss = F.cross_entropy(x, target, **options)
        cotangent = torch.randn(loss.shape, generator=g).double()
        (loss * cotangent).sum().backward()
        records.append({"name": name, "target": encode(target), "options": options, "loss": encode(loss),
                        "cotangent": encode(cotangent), "logits_grad": encode(x.grad)})
    write("cross_entropy", {"logits": encode(logits), "cases": records})


def adamw_case(g):
    model = nn.Linear(4, 3)
    randomize(model, g)
    model.double()
    x = torch.randn(7, 4, generator=g).double()
    y = torch.randn(7, 3, generator=g).double()
    initial = {name: encode(p) for name, p in model.named_parameters()}
    options = {"lr": 0.05, "betas": [0.8, 0.95], "eps": 1e-6, "weight_decay": 0.1}
    optimizer = torch.optim.AdamW(model.parameters(), lr=options["lr"], betas=tuple(options["betas"]),
                                  eps=options["eps"], weight_decay=options["weight_decay"])
    steps = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        steps.append({"loss": loss.item(), "params": {name: encode(p) for name, p in model.named_parameters()}})
    write("adamw", {"initial": initial, "x": encode(x), "y": encode(y), "options": options, "steps": steps})


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    g = torch.Generator().manual_seed(1234)
    module_case("linear", nn.Linear(5, 3), {"x": torch.randn(4, 5, generator=g)}, lambda m, i: m(i["x"]), g)
    module_case("layer_norm", nn.LayerNorm(6), {"x": torch.randn(2, 3, 6, generator=g) * 3 + 1}, lambda m, i: m(i["x"]), g)
    module_case("embedding", nn.Embedding(7, 4), {"indices": torch.tensor([[1, 6, 0], [6, 2, 2]])},
                lambda m, i: m(i["indices"]), g)
    attention_cases(g)
    encoder_cases(g)
    cross_entropy_cases(g)
    adamw_case(g)


if __name__ == "__main__":
    main()
