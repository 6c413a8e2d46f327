"""Reference AdamW trajectories from PyTorch (torch.optim.AdamW, float32) for AdamWTests.

Two parameter tensors: `w` (decayed) and `n` (not decayed, weight_decay 0 in its own param group),
three steps with fixed gradients, and the parameters after each step.

    python3 make_adamw.py   # writes adamw.json next to this file
"""
import json, os
import torch

torch.manual_seed(0)
w = torch.randn(7) 
n = torch.randn(3)
grads = [(torch.randn(7), torch.randn(3) * 10) for _ in range(3)]
lr, betas, eps, wd = 3e-3, (0.9, 0.95), 1e-8, 0.1
pw, pn = w.clone().requires_grad_(), n.clone().requires_grad_()
opt = torch.optim.AdamW([{"params": [pw], "weight_decay": wd}, {"params": [pn], "weight_decay": 0.0}],
                        lr=lr, betas=betas, eps=eps)
steps = []
for gw, gn in grads:
    pw.grad, pn.grad = gw.clone(), gn.clone()
    opt.step()
    steps.append({"w": pw.detach().tolist(), "n": pn.detach().tolist()})
out = {"torch": torch.__version__, "lr": lr, "beta1": betas[0], "beta2": betas[1], "eps": eps, "weight_decay": wd,
       "w": w.tolist(), "n": n.tolist(), "grads": [{"w": a.tolist(), "n": b.tolist()} for a, b in grads], "steps": steps}
json.dump(out, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "adamw.json"), "w"), indent=1)
