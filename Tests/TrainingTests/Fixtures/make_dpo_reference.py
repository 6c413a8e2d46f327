#!/usr/bin/env python3
"""Makes the DPO parity fixture in dpo/: TRL's way of scoring completions and its DPO/IPO formulas, run with
transformers on a tiny Gemma, for DPOParityTests.swift to compare against.

    pip install --no-index --find-links /opt/wheels torch   # CPU torch
    pip install transformers trl safetensors
    python3 make_dpo_reference.py        # rewrites dpo/reference/ and dpo/expected.json

The policy is the MQA parity model of Tests/GemmaTests/Fixtures/hf/mqa; the reference (dpo/reference/) is the
same model with every weight perturbed (seeded), saved with save_pretrained. Pairs are random token ids:
prompt, chosen and rejected of different lengths, right-padded in one batch of chosen rows then rejected rows
as TRL's concatenated forward lays them out. Per sequence, TRL's `selective_log_softmax` of the shifted
logits, summed over the completion tokens, gives π and r; the losses are TRL 1.16's `sigmoid` formula
(-logsigmoid(β·d)) and the IPO formula (d - 1/(2β))² on summed log-probabilities (TRL's IPO averages them per
token; GemmaTrain sums, as its issue asks), averaged over the pairs. The gradient of the sigmoid loss with
respect to three parameters is recorded too, and the summed log-probabilities of the same sequences under the
GQA and MHA parity models (`logps_by_model`).
"""

import json
import os

import torch
import torch.nn.functional as F
import trl
from transformers import GemmaForCausalLM
from trl.trainer.utils import selective_log_softmax

HERE = os.path.dirname(os.path.abspath(__file__))
POLICY = os.path.join(HERE, "..", "..", "GemmaTests", "Fixtures", "hf", "mqa")
OUT = os.path.join(HERE, "dpo")
BETA = 0.5
GRADIENTS = ["model.norm.weight", "model.layers.1.mlp.down_proj.weight", "model.embed_tokens.weight"]


def main():
    torch.manual_seed(11)
    policy = GemmaForCausalLM.from_pretrained(POLICY, torch_dtype=torch.float32, attn_implementation="eager")
    reference = GemmaForCausalLM.from_pretrained(POLICY, torch_dtype=torch.float32, attn_implementation="eager")
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.05 * torch.randn_like(p))
    reference.save_pretrained(os.path.join(OUT, "reference"), safe_serialization=True)

    g = torch.Generator().manual_seed(5)
    def ids(n):
        return torch.randint(3, 256, (n,), generator=g).tolist()
    pairs = [dict(prompt=[2] + ids(5), chosen=ids(4), rejected=ids(7)),
             dict(prompt=[2] + ids(9), chosen=ids(6), rejected=ids(3)),
             dict(prompt=[2] + ids(3), chosen=ids(8), rejected=ids(8))]

    rows = [p["prompt"] + p["chosen"] for p in pairs] + [p["prompt"] + p["rejected"] for p in pairs]
    masks = [[0] * len(p["prompt"]) + [1] * len(p["chosen"]) for p in pairs] + \
            [[0] * len(p["prompt"]) + [1] * len(p["rejected"]) for p in pairs]
    time = max(len(r) for r in rows)
    input_ids = torch.tensor([r + [0] * (time - len(r)) for r in rows])
    attention = torch.tensor([[1] * len(r) + [0] * (time - len(r)) for r in rows])
    completion = torch.tensor([m + [0] * (time - len(m)) for m in masks])

    def summed_logps(model):
        logits = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1]
        labels = input_ids[:, 1:]
        per_token = selective_log_softmax(logits, labels)
        return (per_token * completion[:, 1:]).sum(-1)  # [2P]

    with torch.no_grad():
        ref = summed_logps(reference)
    pi = summed_logps(policy)
    n = len(pairs)
    d = (pi[:n] - ref[:n]) - (pi[n:] - ref[n:])
    sigmoid = (-F.logsigmoid(BETA * d)).mean()
    ipo = ((d - 1 / (2 * BETA)) ** 2).mean()
    sigmoid.backward()
    params = dict(policy.named_parameters())
    by_model = {"mqa": pi.tolist()}
    for name in ["gqa", "mha"]:
        other = GemmaForCausalLM.from_pretrained(os.path.join(POLICY, "..", name), torch_dtype=torch.float32,
                                                 attn_implementation="eager")
        with torch.no_grad():
            by_model[name] = summed_logps(other).tolist()
    expected = dict(
        trl_version=trl.__version__, beta=BETA, pairs=pairs,
        policy_logps=pi.tolist(), reference_logps=ref.tolist(),
        sigmoid_loss=sigmoid.item(), ipo_loss=ipo.item(), logps_by_model=by_model,
        gradients={name: params[name].grad.flatten().tolist() for name in GRADIENTS},
    )
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f)
    print(f"policy logps {pi.tolist()}\nreference logps {ref.tolist()}\nsigmoid {sigmoid.item()} ipo {ipo.item()}")


if __name__ == "__main__":
    main()
