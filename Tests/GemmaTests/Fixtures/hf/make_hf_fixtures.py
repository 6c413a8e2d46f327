#!/usr/bin/env python3
"""Makes the Hugging Face parity fixtures in this folder: tiny random GemmaForCausalLM models saved with
`save_pretrained`, a batch of token ids, and the logits and losses `transformers` computes for them.

    pip install --no-index --find-links /opt/wheels torch   # CPU torch
    pip install transformers safetensors
    python3 make_hf_fixtures.py            # rewrites mqa/ gqa/ mha/ wideq/ mqa-bf16/ mqa-sharded/ here

Every model: float32, eager attention, tied embedding, gelu_pytorch_tanh, 2 layers, vocab 256,
max_position_embeddings 64. All weights are random (seeded), including the RMSNorm offsets, which
`transformers` initialises to 0, so the (1 + w) scale is exercised. See README.md for the files.
"""

import json
import os
import shutil

import safetensors
import torch
import transformers
from safetensors.torch import save_file
from transformers import GemmaConfig, GemmaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (seed, GemmaConfig arguments that differ between the models)
MODELS = {
    # 2B-like: multi-query attention.
    "mqa": (1, dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=1, head_dim=8)),
    # Grouped-query attention: 2 query heads per kv head.
    "gqa": (2, dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=8)),
    # Multi-head attention.
    "mha": (3, dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=4, head_dim=8)),
    # 7B-like: MHA whose query width heads*head_dim = 64 differs from hidden_size = 48.
    "wideq": (4, dict(hidden_size=48, intermediate_size=96, num_attention_heads=4, num_key_value_heads=4, head_dim=16)),
}

COMMON = dict(
    vocab_size=256,
    num_hidden_layers=2,
    max_position_embeddings=64,
    rms_norm_eps=1e-6,
    rope_theta=10000.0,
    hidden_act="gelu_pytorch_tanh",
    tie_word_embeddings=True,
    pad_token_id=0,
    eos_token_id=1,
    bos_token_id=2,
)

# Standard deviations of the random weights: large enough that logits and attention patterns are far
# from uniform (HF's 0.02 would make every logit ~0), q/k larger still so attention is not flat.
STD_DEFAULT = 0.1
STD_QK = 0.2
STD_NORM = 0.1

BATCH, SEQ_LEN = 2, 11


def randomise(model: GemmaForCausalLM, seed: int) -> None:
    """Overwrites every parameter (in sorted-name order) with seeded normal values."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in sorted(model.named_parameters()):
            if name.endswith("norm.weight"):
                std = STD_NORM
            elif ".q_proj." in name or ".k_proj." in name:
                std = STD_QK
            else:
                std = STD_DEFAULT
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float32) * std)


def make_inputs(seed: int):
    """A batch of BATCH rows of SEQ_LEN ids: <bos> then random ids in [3, 256); and labels equal to the
    ids except some -100 (ignored) positions."""
    generator = torch.Generator().manual_seed(1000 + seed)
    ids = torch.randint(3, 256, (BATCH, SEQ_LEN), generator=generator)
    ids[:, 0] = 2
    labels = ids.clone()
    labels[0, :4] = -100            # a prompt-like prefix
    labels[1, [0, 1, 2, 7]] = -100  # a prefix and a hole in the middle
    return ids, labels


def one_key_per_line(obj: dict) -> str:
    """JSON with one top-level key per line (rows of ids stay on one line)."""
    lines = [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in obj.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def make_model(name: str, seed: int, sizes: dict) -> None:
    config = GemmaConfig(**COMMON, **sizes)
    torch.manual_seed(seed)
    model = GemmaForCausalLM(config).to(torch.float32)
    randomise(model, seed)
    model.set_attn_implementation("eager")
    model.eval()

    ids, labels = make_inputs(seed)
    with torch.no_grad():
        logits = model(ids).logits.float().contiguous()
        loss = model(ids, labels=labels).loss.item()
        loss_all = model(ids, labels=ids).loss.item()

    directory = os.path.join(HERE, name)
    shutil.rmtree(directory, ignore_errors=True)
    model.save_pretrained(directory)  # config.json, generation_config.json, model.safetensors
    save_file({"logits": logits}, os.path.join(directory, "logits.safetensors"), metadata={"format": "pt"})
    inputs = {
        "input_ids": ids.tolist(),
        "labels": labels.tolist(),
        "loss": loss,
        "loss_all": loss_all,
        "logits_file": "logits.safetensors",
        "logits_shape": list(logits.shape),
        "note": "logits = model(input_ids).logits (float32, no attention mask: every token real, causal). "
                "loss = model(input_ids, labels=labels).loss; loss_all = the same with labels = input_ids. "
                "transformers shifts labels inside: loss = mean over (b, t) with labels[b][t+1] != -100 of "
                "-log softmax(logits[b][t])[labels[b][t+1]].",
    }
    with open(os.path.join(directory, "inputs.json"), "w") as f:
        f.write(one_key_per_line(inputs))
    print(f"{name}: loss {loss:.6f}, loss_all {loss_all:.6f}, logits std {logits.std().item():.3f}")

    if name == "mqa":
        # The same weights as BF16 (round to nearest even), and as F32 in several shards.
        bf16 = os.path.join(HERE, "mqa-bf16")
        shutil.rmtree(bf16, ignore_errors=True)
        copy = GemmaForCausalLM(config)
        copy.load_state_dict(model.state_dict())
        copy.to(torch.bfloat16).save_pretrained(bf16)
        sharded = os.path.join(HERE, "mqa-sharded")
        shutil.rmtree(sharded, ignore_errors=True)
        model.save_pretrained(sharded, max_shard_size="20KB")


def main() -> None:
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, safetensors {safetensors.__version__}")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    for name, (seed, sizes) in MODELS.items():
        make_model(name, seed, sizes)


if __name__ == "__main__":
    main()
