#!/usr/bin/env python3
"""Reference log-likelihoods for `gemma-train eval choice`, as lm-evaluation-harness computes them.

    pip install --no-index --find-links /opt/wheels torch   # CPU torch
    pip install transformers sentencepiece safetensors
    python3 make_choice_reference.py     # rewrites model/, rows.jsonl and expected.json here

The model (model/) is a tiny random GemmaForCausalLM (seeded) whose vocabulary covers the test tokenizer
(../tokenizer/demo.model, 3000 pieces). rows.jsonl holds multiple-choice rows in the shape of HellaSwag, ARC,
PIQA and MMLU prompts (written by us), plus a context with trailing whitespace and one turn-format row.
Token splits follow the harness's `_encode_pair` with target delimiter " " (trailing whitespace of the
context moves into the continuation; whole = encode(context + continuation); the continuation's tokens are
whole[len(encode(context)):]) with `<bos>` first, tokenized by the `sentencepiece` package. A turn-format row
renders the dialogue through `<start_of_turn>model\\n` and tokenizes the choice on its own. Each choice's
log-likelihood is the sum of log-softmax(logits)[next token] over its tokens (transformers, float32, eager
attention, one sequence at a time); acc / acc_norm take np.argmax of the sums and of the sums divided by the
choice's UTF-8 byte length.
"""
import json
import os

import numpy as np
import sentencepiece as spm
import torch
from transformers import GemmaConfig, GemmaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
sp = spm.SentencePieceProcessor(model_file=os.path.join(HERE, "..", "tokenizer", "demo.model"))
BOS = sp.bos_id()

ROWS = [
    {"context": "A man is sitting on a roof. He", "choices": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.",
     "is holding a rubik's cube.", "starts pulling up roofing on a roof."], "answer": 3},
    {"context": "Question: Which of these is a source of light?\nAnswer:", "choices": ["the moon", "the sun", "a mirror", "a window"], "answer": 1},
    {"context": "Question: How do I keep bread fresh?\nAnswer:", "choices": ["Store it in a bread box.", "Store it in the dishwasher."], "answer": 0},
    {"context": "The following are multiple choice questions about arithmetic.\n\nWhat is 2 + 3?\nA. 4\nB. 5\nC. 6\nD. 7\nAnswer:",
     "choices": ["A", "B", "C", "D"], "answer": 1},
    {"context": "The capital of France is   ", "choices": ["Paris", "London", "Rome"], "answer": 0},
    {"messages": [{"role": "user", "content": "Pick the animal: chair, dog, spoon."}], "choices": ["dog", "chair", "spoon"], "answer": 0},
]


def encode_pair(context, continuation):
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = [BOS] + sp.encode(context + continuation)
    n = 1 + len(sp.encode(context))
    return whole[:n], whole[n:]


def turn_prompt(messages):
    text = "".join(f"<start_of_turn>{'user' if m['role'] == 'user' else 'model'}\n{m['content'].strip()}<end_of_turn>\n" for m in messages)
    return [BOS] + sp.encode(text + "<start_of_turn>model\n")


def main():
    torch.manual_seed(5)
    config = GemmaConfig(vocab_size=3072, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=1, head_dim=8, max_position_embeddings=128, pad_token_id=0, bos_token_id=2,
                         eos_token_id=1)
    model = GemmaForCausalLM(config).eval()
    with torch.no_grad():  # larger weights than HF's init, so that choices differ clearly
        for p in model.parameters():
            p.normal_(0, 0.5 if p.dim() > 1 else 0.1)
    model.save_pretrained(os.path.join(HERE, "model"), safe_serialization=True)
    expected = []
    for row in ROWS:
        logps, tokens = [], []
        for choice in row["choices"]:
            if "messages" in row:
                context, continuation = turn_prompt(row["messages"]), sp.encode(choice)
            else:
                context, continuation = encode_pair(row["context"], " " + choice)
            ids = torch.tensor([context + continuation])
            with torch.no_grad():
                logp = torch.log_softmax(model(ids).logits[0].double(), -1)
            n = len(context)
            logps.append(sum(logp[n - 1 + i, t].item() for i, t in enumerate(continuation)))
            tokens.append(continuation)
        lengths = np.array([len(c.encode("utf-8")) for c in row["choices"]], dtype=float)
        expected.append({"logps": logps, "continuation_tokens": tokens, "prediction": int(np.argmax(logps)),
                         "prediction_norm": int(np.argmax(np.array(logps) / lengths))})
    with open(os.path.join(HERE, "rows.jsonl"), "w") as f:
        for row in ROWS:
            f.write(json.dumps(row) + "\n")
    acc = np.mean([e["prediction"] == r["answer"] for e, r in zip(expected, ROWS)])
    acc_norm = np.mean([e["prediction_norm"] == r["answer"] for e, r in zip(expected, ROWS)])
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump({"rows": expected, "acc": acc, "acc_norm": acc_norm}, f, indent=1)
    print("acc", acc, "acc_norm", acc_norm)


if __name__ == "__main__":
    main()
