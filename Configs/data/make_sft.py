#!/usr/bin/env python3
"""Make the SFT dialogues: Configs/data/sft.jsonl and sft-eval.jsonl, from chatterbot-corpus 1.3.3 (BSD-3).

    pip install pyyaml
    python3 Configs/data/make_sft.py [--wheel chatterbot_corpus-1.3.3-py2.py3-none-any.whl]

Source: the English YAML files (chatterbot_corpus/data/english/*.yml) of the PyPI wheel chatterbot-corpus 1.3.3,
fetched with `pip download --no-deps --only-binary :all: chatterbot-corpus==1.3.3` (or given with --wheel) and
checked against the SHA-256 below. Licence: BSD 3-Clause, Copyright (c) 2017, Gunther Cox (LICENSES/).

Each YAML conversation (a list of utterances, alternately spoken by the two sides) becomes one row
    {"messages": [{"role": "user", "content": ...}, {"role": "model", "content": ...}, ...], "category": ...}
  - utterances alternate user, model, user, ...; each is trimmed (no-break spaces become spaces);
  - a trailing user utterance is dropped, so every dialogue ends on a model turn (only model turns are trained);
  - exception: in computers.yml and emotion.yml an entry is one prompt followed by alternative replies
    ("What is a computer?", then four different definitions), so [q, r1, ..., rn] becomes n two-turn
    dialogues [q, ri] instead of the nonsense alternation q/r1/r2/... (ALTERNATIVE_REPLIES below);
  - a conversation that is not a list of at least two non-empty strings is skipped and counted (1.3.3 has one:
    a trivia item whose YAML lost its inner "- ", so it parses as a single string);
  - exact duplicate dialogues (same turns after trimming) are kept once, at their first occurrence (files are
    read in name order); the corpus repeats many rows (tech_support.yml: 1050 rows, 10 distinct);
  - "category" is the YAML file's name without .yml (extra key: the trainers ignore it; make_preferences.py
    uses it).
Held-out split: a dialogue goes to sft-eval.jsonl when sha256("sft|" + key) mod 100 < 10, where key is its
first user turn case-folded with whitespace collapsed and trailing ".?!" removed. So all dialogues that open
with the same question ("Tell me a joke": 30 of them) land on the same side, and a row's side never depends on
the other rows. Rows keep the corpus order (files by name, then file order).
"""
import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE, VERSION = "chatterbot-corpus", "1.3.3"
WHEEL = "chatterbot_corpus-1.3.3-py2.py3-none-any.whl"
WHEEL_SHA256 = "86de5300afb9a80826386339d3bec79c0a72eb0358abb8327e2ecef5ae0ce154"
LANGUAGE_DIR = "chatterbot_corpus/data/english/"
EVAL_PERCENT = 10
# Files whose multi-utterance entries are one prompt followed by alternative replies, not a dialogue
# ("What is a computer?", then four different definitions): each reply becomes its own two-turn dialogue.
ALTERNATIVE_REPLIES = {"computers", "emotion"}


def fetch_wheel(dest):
    path = os.path.join(dest, WHEEL)
    if not os.path.exists(path):
        print(f"pip download {PACKAGE}=={VERSION}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                        "-d", dest, f"{PACKAGE}=={VERSION}"], check=True)
    return path


def clean(s):
    return s.replace("\r\n", "\n").replace("\u00a0", " ").strip()


def split_key(messages):
    first = " ".join(messages[0]["content"].casefold().split())
    return re.sub(r"[.?!]+$", "", first)


def is_eval(messages, salt="sft"):
    digest = hashlib.sha256(f"{salt}|{split_key(messages)}".encode("utf-8")).hexdigest()
    return int(digest, 16) % 100 < EVAL_PERCENT


def load_dialogues(wheel_path):
    """[(category, messages)] in corpus order, deduplicated, and counts of what was dropped."""
    stats = {"conversations": 0, "malformed": 0, "split_alternatives": 0, "trailing_user_dropped": 0,
             "duplicates": 0}
    rows, seen = [], set()
    with zipfile.ZipFile(wheel_path) as z:
        names = sorted(n for n in z.namelist() if n.startswith(LANGUAGE_DIR) and n.endswith(".yml"))
        for name in names:
            category = os.path.basename(name)[:-len(".yml")]
            doc = yaml.safe_load(io.TextIOWrapper(z.open(name), encoding="utf-8"))
            for conv in doc.get("conversations") or []:
                stats["conversations"] += 1
                if not isinstance(conv, list) or not all(isinstance(u, str) for u in conv):
                    stats["malformed"] += 1
                    continue
                turns = [clean(u) for u in conv]
                if len(turns) < 2 or not all(turns):
                    stats["malformed"] += 1
                    continue
                if category in ALTERNATIVE_REPLIES and len(turns) > 2:
                    dialogues = [[turns[0], reply] for reply in turns[1:]]
                    stats["split_alternatives"] += 1
                else:
                    if len(turns) % 2 == 1:
                        turns = turns[:-1]
                        stats["trailing_user_dropped"] += 1
                    dialogues = [turns]
                for turns in dialogues:
                    key = tuple(turns)
                    if key in seen:
                        stats["duplicates"] += 1
                        continue
                    seen.add(key)
                    messages = [{"role": "user" if i % 2 == 0 else "model", "content": t}
                                for i, t in enumerate(turns)]
                    rows.append((category, messages))
    return rows, stats


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", help=f"path of {WHEEL}; default: pip download it into a temporary folder")
    ap.add_argument("--out-dir", default=HERE)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(tmp)
        with open(wheel, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != WHEEL_SHA256:
            sys.exit(f"error: {wheel}: sha256 {digest}, expected {WHEEL_SHA256}")
        rows, stats = load_dialogues(wheel)

    train, evals = [], []
    for category, messages in rows:
        (evals if is_eval(messages) else train).append({"messages": messages, "category": category})
    for fname, part in (("sft.jsonl", train), ("sft-eval.jsonl", evals)):
        path = os.path.join(args.out_dir, fname)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for r in part:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        turns = sum(len(r["messages"]) // 2 for r in part)
        print(f"{fname}: {len(part)} dialogues, {turns} model turns, {os.path.getsize(path)} bytes", file=sys.stderr)
    print("source: " + ", ".join(f"{k} {v}" for k, v in stats.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
