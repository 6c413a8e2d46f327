"""Reference for LoRAPEFTTests: a PEFT LoRA adapter with known random weights on the tiny `hf/gqa` fixture.

Builds `peft.get_peft_model` (r=4, lora_alpha=8, all seven Gemma projections) on the base, gives every
lora_A and lora_B normal(0, 0.1) values from torch seed 0 (PEFT starts B at zero, which would test
nothing), saves the adapter directory (`adapter/`: adapter_config.json + adapter_model.safetensors; the base
path written relative, PEFT's README.md left out),
loads it back through `peft.PeftModel.from_pretrained` onto a fresh base and writes that model's logits
on the fixture's inputs to `logits.safetensors` (float32, [2, 11, 256]).

Run from this directory: python make_lora_reference.py (torch, transformers, peft, safetensors).
"""
import json
import os

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from transformers import GemmaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(HERE, "..", "hf", "gqa")
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def main():
    torch.manual_seed(0)
    base = GemmaForCausalLM.from_pretrained(BASE, torch_dtype=torch.float32)
    config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=TARGETS, task_type="CAUSAL_LM")
    peft_model = get_peft_model(base, config)
    with torch.no_grad():
        for name, p in sorted(peft_model.named_parameters()):
            if "lora_" in name:
                p.copy_(torch.randn(p.shape) * 0.1)
    out = os.path.join(HERE, "adapter")
    peft_model.save_pretrained(out)
    # Keep the committed files free of this machine's paths and of PEFT's generated model card.
    os.remove(os.path.join(out, "README.md"))
    config_path = os.path.join(out, "adapter_config.json")
    with open(config_path) as f:
        saved = json.load(f)
    saved["base_model_name_or_path"] = "../hf/gqa"
    with open(config_path, "w") as f:
        json.dump(saved, f, indent=2, sort_keys=True)

    fresh = GemmaForCausalLM.from_pretrained(BASE, torch_dtype=torch.float32)
    loaded = PeftModel.from_pretrained(fresh, out).eval()
    with open(os.path.join(BASE, "inputs.json")) as f:
        ids = torch.tensor(json.load(f)["input_ids"])
    with torch.no_grad():
        logits = loaded(input_ids=ids).logits.float().contiguous()
    save_file({"logits": logits}, os.path.join(HERE, "logits.safetensors"))
    print("adapter:", sorted(os.listdir(out)), "logits", list(logits.shape))


if __name__ == "__main__":
    main()
