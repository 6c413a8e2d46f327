#!/usr/bin/env python3
"""Print the counts of README.md's table: rows, bytes and tokens of each data file with the demo tokenizer.

    pip install sentencepiece
    python3 Configs/data/stats.py

Tokens are counted as the trainers see them (DESIGN.md "Data", GEMMA.md "Turn format"):
  text        tokens of each document + <eos> (as packed for pretraining);
  dialogues   <bos> + the rendered turn format; "trained" = tokens of the model turns' reply + <end_of_turn>\\n
              (a token overlapping such a span counts, as TRL's assistant mask does);
  preferences <bos> + prompt + reply, for chosen and for rejected (both sequences counted).
"""
import json
import os

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER = os.path.join(os.path.dirname(HERE), "tokenizer", "demo.model")


def read(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def render(messages):
    """(text, [(begin, end) byte spans trained]) of a dialogue in Gemma's turn format, without <bos>."""
    text, spans = b"", []
    for m in messages:
        role = "model" if m["role"] in ("model", "assistant") else m["role"]
        text += f"<start_of_turn>{role}\n".encode()
        body = f"{m['content'].strip()}<end_of_turn>\n".encode()
        if role == "model":
            spans.append((len(text), len(text) + len(body)))
        text += body
    return text.decode(), spans


def piece_bytes(sp, i):
    """The bytes of the input that piece i covers (identity normalization, no dummy prefix)."""
    piece = sp.id_to_piece(i)
    if sp.is_byte(i):
        return bytes([int(piece[3:5], 16)])
    if sp.is_control(i):
        return b""
    return piece.replace("\u2581", " ").encode()


def main():
    sp = spm.SentencePieceProcessor(model_file=TOKENIZER)
    rows = []
    for name in ("pretrain.jsonl", "pretrain-eval.jsonl"):
        docs = read(name)
        tokens = sum(len(sp.encode(d["text"])) + 1 for d in docs)
        rows.append((name, f"{len(docs)} documents", tokens, ""))
    for name in ("sft.jsonl", "sft-eval.jsonl"):
        dialogues = read(name)
        tokens = trained = turns = 0
        for d in dialogues:
            text, spans = render(d["messages"])
            ids = sp.encode(text)
            tokens += 1 + len(ids)
            pos = 0
            for i in ids:
                end = pos + len(piece_bytes(sp, i))
                trained += any(pos < e and end > b for b, e in spans)
                pos = end
            assert pos == len(text.encode()), "identity normalization: pieces spell the text"
            turns += len(spans)
        rows.append((name, f"{len(dialogues)} dialogues, {turns} model turns", tokens, f"{trained} trained"))
    for name in ("preferences.jsonl", "preferences-eval.jsonl"):
        pairs = read(name)
        tokens, longest = 0, 0
        kinds = {}
        for p in pairs:
            prompt = p["prompt"] if isinstance(p["prompt"], list) else [{"role": "user", "content": p["prompt"]}]
            for reply in (p["chosen"], p["rejected"]):
                n = 1 + len(sp.encode(render(prompt + [{"role": "model", "content": reply}])[0]))
                tokens += n
                longest = max(longest, n)
            kinds[p.get("kind", "?")] = kinds.get(p.get("kind", "?"), 0) + 1
        detail = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        rows.append((name, f"{len(pairs)} pairs ({detail})", tokens, f"longest sequence {longest}"))
    print("| file | bytes | rows | tokens | |")
    print("|---|---:|---|---:|---|")
    for name, what, tokens, note in rows:
        print(f"| `{name}` | {os.path.getsize(os.path.join(HERE, name)):,} | {what} | {tokens:,} | {note} |")
    print(f"| `../tokenizer/demo.model` | {os.path.getsize(TOKENIZER):,} | {sp.get_piece_size()} pieces | | |")


if __name__ == "__main__":
    main()
