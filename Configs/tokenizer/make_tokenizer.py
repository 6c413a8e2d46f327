#!/usr/bin/env python3
"""Train the demo tokenizer Configs/tokenizer/demo.model (SentencePiece BPE, Gemma-like, 4096 pieces).

    pip install sentencepiece
    python3 Configs/tokenizer/make_tokenizer.py [--check]

Training text (the training splits only; the -eval files are not seen):
  - every document of Configs/data/pretrain.jsonl, one sentence each (newlines inside are kept);
  - every dialogue of Configs/data/sft.jsonl rendered in Gemma's turn format, one sentence each:
    "<start_of_turn>user\\n{user}<end_of_turn>\\n<start_of_turn>model\\n{reply}<end_of_turn>\\n..." (no <bos>).
  Run Configs/data/make_pretrain.py and make_sft.py first.

Options: those of /work/shared/GEMMA.md "Tokenizer" (BPE, byte_fallback, split_digits, no dummy prefix,
identity normalization, extra whitespace kept, whitespace-only pieces allowed, pad 0 / eos 1 / bos 2 / unk 3
named <pad> <eos> <bos> <unk> as in Gemma, user-defined <start_of_turn> (4) and <end_of_turn> (5),
character_coverage 1.0), vocab_size 4096 = the `tiny` preset's vocab_size, and num_threads=1 so that the
result does not depend on thread scheduling. --check trains twice and fails unless the two files are
byte-identical. The model is written with the sentencepiece version used recorded in README.md; another
sentencepiece version may produce a different (equally valid) model.
"""
import argparse
import hashlib
import io
import json
import os
import sys

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "data")
VOCAB_SIZE = 4096
USER_DEFINED = ["<start_of_turn>", "<end_of_turn>"]


def render(messages):
    """Gemma's turn format without <bos> (GEMMA.md "Turn format")."""
    out = []
    for m in messages:
        role = "model" if m["role"] in ("model", "assistant") else m["role"]
        out.append(f"<start_of_turn>{role}\n{m['content'].strip()}<end_of_turn>\n")
    return "".join(out)


def sentences():
    with open(os.path.join(DATA, "pretrain.jsonl"), encoding="utf-8") as f:
        docs = [json.loads(line)["text"] for line in f if line.strip()]
    with open(os.path.join(DATA, "sft.jsonl"), encoding="utf-8") as f:
        dialogues = [render(json.loads(line)["messages"]) for line in f if line.strip()]
    return docs + dialogues


def train(sents):
    model = io.BytesIO()
    longest = max(len(s.encode("utf-8")) for s in sents)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sents), model_writer=model,
        model_type="bpe", vocab_size=VOCAB_SIZE,
        byte_fallback=True, split_digits=True, add_dummy_prefix=False, remove_extra_whitespaces=False,
        normalization_rule_name="identity", allow_whitespace_only_pieces=True,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
        unk_piece="<unk>", user_defined_symbols=USER_DEFINED, character_coverage=1.0,
        max_sentence_length=max(longest, 4192), input_sentence_size=0, num_threads=1, minloglevel=2)
    return model.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "demo.model"))
    ap.add_argument("--check", action="store_true", help="train twice and require identical bytes")
    args = ap.parse_args()

    sents = sentences()
    blob = train(sents)
    if args.check:
        again = train(sents)
        if again != blob:
            sys.exit("error: two trainings on the same input gave different models")
        print("check: two trainings gave byte-identical models", file=sys.stderr)
    with open(args.out, "wb") as f:
        f.write(blob)

    sp = spm.SentencePieceProcessor(model_proto=blob)
    assert sp.get_piece_size() == VOCAB_SIZE, sp.get_piece_size()
    assert [sp.pad_id(), sp.eos_id(), sp.bos_id(), sp.unk_id()] == [0, 1, 2, 3]
    assert [sp.piece_to_id(p) for p in USER_DEFINED] == [4, 5]
    print(f"{args.out}: {len(blob)} bytes, {sp.get_piece_size()} pieces, sha256 {hashlib.sha256(blob).hexdigest()}, "
          f"sentencepiece {spm.__version__}, {len(sents)} training sentences", file=sys.stderr)


if __name__ == "__main__":
    main()
