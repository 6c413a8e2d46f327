"""Checks an adapter exported by `gemma-train convert --adapter` with the real `peft` package.

    python check_adapter_export.py BASE_HF_DIR ADAPTER_DIR MERGED_HF_DIR

BASE_HF_DIR is the base as a Hugging Face directory (`gemma-train convert --from base.h5 --to DIR`),
ADAPTER_DIR the `--adapter` export and MERGED_HF_DIR the `--merge` export of the same checkpoint.
`PeftModel.from_pretrained(base, ADAPTER_DIR)` must give the merged model's logits (1e-4 max-abs) on
random token ids, and differ from the base's. Prints the differences; exits 1 on failure.
"""
import sys

import torch
from peft import PeftModel
from transformers import GemmaForCausalLM


def main(base_dir, adapter_dir, merged_dir):
    torch.manual_seed(0)
    base = GemmaForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32).eval()
    ids = torch.randint(3, base.config.vocab_size, (2, 12))
    with torch.no_grad():
        plain = base(input_ids=ids).logits
        adapted = PeftModel.from_pretrained(base, adapter_dir).eval()(input_ids=ids).logits
        merged = GemmaForCausalLM.from_pretrained(merged_dir, torch_dtype=torch.float32).eval()(input_ids=ids).logits
    to_merged = (adapted - merged).abs().max().item()
    to_base = (adapted - plain).abs().max().item()
    print(f"max |peft - merged| = {to_merged:.3g}, max |peft - base| = {to_base:.3g}")
    return 0 if to_merged <= 1e-4 and to_base > 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
