#!/usr/bin/env python3
"""Reference values for the online RL losses (RLOO and GRPO) and their gradients, in PyTorch.

    python3 Tests/TrainingTests/Fixtures/make_rl_reference.py   (CPU torch; writes rl/expected.json)

Fixed completions' per-token log-probabilities (policy `logps`, sampling policy `old`, reference `ref`), a
completion mask, reward-model scores and whether each completion closed its turn; 2 prompts x K = 3
completions, 6 tokens at most. The formulas follow TRL (trl 1.16 RLOOTrainer / GRPOTrainer) as the issue
specifies them:
  rloo: reward = score - penalty*[not closed] - beta * sum_t mask*(old - ref)        (k1 in the reward)
        advantage = reward - mean of the other K-1 rewards of the prompt
  grpo: reward = score - penalty*[not closed]
        advantage = (reward - group mean) / (group std (unbiased) + 1e-4)
        per-token k3 = exp(ref - logp) - (ref - logp) - 1, weighted by beta in the loss
  both: ratio = exp(logp - old); per token -min(ratio*A, clamp(ratio, 1-eps, 1+eps)*A) (+ beta*k3 for grpo),
        summed over completion tokens and divided by `normalizer` (the global batch's completion tokens).
The gradient is d loss / d logps from autograd (torch.min and torch.clamp's own rules).
"""
import json
import os

import torch

torch.manual_seed(0)
HERE = os.path.dirname(os.path.abspath(__file__))
K, ROWS, T = 3, 6, 6
EPS, PENALTY, NORMALIZER = 0.2, 1.0, 40.0

lengths = [6, 3, 5, 1, 4, 6]
mask = torch.zeros(ROWS, T)
for r, n in enumerate(lengths):
    mask[r, :n] = 1
logps = -torch.rand(ROWS, T, dtype=torch.float64) * 3
old = logps + torch.randn(ROWS, T, dtype=torch.float64) * 0.25  # some ratios leave [0.8, 1.2]
ref = logps + torch.randn(ROWS, T, dtype=torch.float64) * 0.5
scores = torch.randn(ROWS, dtype=torch.float64) * 2
closed = torch.tensor([True, True, False, True, False, True])
# Float32 inputs, as the Swift side holds them; arithmetic in float64.
logps, old, ref, scores = (x.float().double() for x in (logps, old, ref, scores))


def loss_and_grad(advantages, beta):
    lp = logps.clone().requires_grad_(True)
    ratio = torch.exp(lp - old)
    clipped = torch.clamp(ratio, 1 - EPS, 1 + EPS)
    a = advantages.unsqueeze(1)
    per_token = -torch.min(ratio * a, clipped * a)
    if beta != 0:
        per_token = per_token + beta * (torch.exp(ref - lp) - (ref - lp) - 1)
    loss = (per_token * mask).sum() / NORMALIZER
    loss.backward()
    is_clipped = ((ratio < 1 - EPS) & (a < 0)) | ((ratio > 1 + EPS) & (a > 0))
    return loss.item(), (lp.grad * mask).flatten().tolist(), int((is_clipped.float() * mask).sum().item())


penalised = scores - PENALTY * (~closed).double()
cases = {}

beta = 0.05
rewards = penalised - beta * ((old - ref) * mask).sum(-1)
grouped = rewards.view(-1, K)
baselines = ((grouped.sum(1, keepdim=True) - grouped) / (K - 1)).view(-1)
adv = rewards - baselines
loss, grad, clipped = loss_and_grad(adv, 0.0)
cases["rloo"] = {"beta": beta, "rewards": rewards.tolist(), "advantages": adv.tolist(), "loss": loss, "grad": grad, "clipped": clipped}

beta = 0.04
grouped = penalised.view(-1, K)
adv = ((grouped - grouped.mean(1, keepdim=True)) / (grouped.std(1, keepdim=True) + 1e-4)).view(-1)
loss, grad, clipped = loss_and_grad(adv, beta)
cases["grpo"] = {"beta": beta, "rewards": penalised.tolist(), "advantages": adv.tolist(), "loss": loss, "grad": grad, "clipped": clipped}

out = {
    "generations": K, "rows": ROWS, "time": T, "epsilon": EPS, "missing_eos_penalty": PENALTY, "normalizer": NORMALIZER,
    "mask": mask.flatten().tolist(), "logps": logps.flatten().tolist(), "old": old.flatten().tolist(),
    "ref": ref.flatten().tolist(), "scores": scores.tolist(), "closed": closed.tolist(),
    "torch": torch.__version__, "cases": cases,
}
with open(os.path.join(HERE, "rl", "expected.json"), "w") as f:
    json.dump(out, f, indent=1)
print({k: (v["loss"], v["clipped"]) for k, v in cases.items()})
