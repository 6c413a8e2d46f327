#!/usr/bin/env python3
"""Shows that `transformers` loads a model directory written by our exporter (config.json +
model.safetensors, or shards + index) and computes the fixture's logits with it.

    python3 check_export.py EXPORT_DIR [--fixture mqa|gqa|mha|wideq] [--tol 1e-4]

Runs the fixture's inputs (FIXTURE/inputs.json) through GemmaForCausalLM.from_pretrained(EXPORT_DIR)
in float32 with eager attention, and prints the loading report (missing / unexpected keys), the
logits' first values, the max-abs difference to FIXTURE/logits.safetensors and both losses.
Exits 1 if a weight was missing or unexpected or the difference exceeds --tol, else 0.
"""

import argparse
import json
import os
import sys

import torch
import transformers
from safetensors.torch import load_file
from transformers import GemmaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export_dir", help="directory written by our exporter")
    parser.add_argument("--fixture", default=None,
                        help="fixture whose inputs and logits to compare with (default: the export dir's "
                             "name if it is one of mqa, gqa, mha, wideq; else mqa)")
    parser.add_argument("--tol", type=float, default=1e-4, help="largest acceptable max-abs logit difference")
    args = parser.parse_args()

    fixture = args.fixture
    if fixture is None:
        base = os.path.basename(os.path.normpath(args.export_dir))
        fixture = base if base in ("mqa", "gqa", "mha", "wideq") else "mqa"
    fixture_dir = os.path.join(HERE, fixture)
    with open(os.path.join(fixture_dir, "inputs.json")) as f:
        inputs = json.load(f)
    expected = load_file(os.path.join(fixture_dir, inputs["logits_file"]))["logits"]

    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    model, info = GemmaForCausalLM.from_pretrained(
        args.export_dir, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    model.eval()
    problems = {k: v for k, v in info.items() if v}
    print("loading info:", problems if problems else "all weights matched")

    ids = torch.tensor(inputs["input_ids"])
    labels = torch.tensor(inputs["labels"])
    with torch.no_grad():
        logits = model(ids).logits.float()
        loss = model(ids, labels=labels).loss.item()
    print("logits shape:", list(logits.shape), "expected:", inputs["logits_shape"])
    print("logits[0, 0, :8]:", [round(x, 6) for x in logits[0, 0, :8].tolist()])
    if list(logits.shape) != inputs["logits_shape"]:
        print("FAIL: shapes differ")
        return 1
    difference = (logits - expected).abs().max().item()
    print(f"max |logits - fixture {fixture}| = {difference:.3e} (tolerance {args.tol:g})")
    print(f"loss {loss:.7f}, fixture loss {inputs['loss']:.7f}, difference {abs(loss - inputs['loss']):.3e}")
    failed = bool(info.get("missing_keys") or info.get("unexpected_keys") or info.get("mismatched_keys")) \
        or difference > args.tol
    print("FAIL" if failed else "OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
