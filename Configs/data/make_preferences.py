#!/usr/bin/env python3
"""Make the reward-model pairs: Configs/data/preferences.jsonl and preferences-eval.jsonl.

    python3 Configs/data/make_preferences.py        (after make_sft.py; reads sft.jsonl and sft-eval.jsonl)

Synthetic preferences derived from the SFT dialogues (chatterbot-corpus, BSD-3), no human judgement involved.
For every model turn of every dialogue:
  prompt   = the dialogue up to that turn (at most the last 5 messages, so it starts on a user turn),
  chosen   = the real reply,
and one row per applicable rejection kind:
  "other-topic"  rejected = a real reply taken from a dialogue of the same split whose category (file) is in
                 a *different group* (GROUPS below: technical / knowledge / chat): a fluent reply that does not
                 answer the prompt.
  "shuffled"     rejected = the chosen reply's words (split on whitespace) in a random order, joined by single
                 spaces; only for replies of 4 or more words whose shuffle differs from the original: the right
                 words, in a non-fluent order.
Rows look like {"prompt": [messages], "chosen": str, "rejected": str, "kind": ..., "category": ...}
("kind" and "category" are extra keys for analysis; the trainer reads prompt/chosen/rejected).

Randomness is a pure function of the row: random.Random(sha256(kind | prompt | chosen)), and the other-topic
reply is drawn from the split's model replies in file order, so the output is the same on every run.
Split: pairs from sft.jsonl go to preferences.jsonl, pairs from sft-eval.jsonl to preferences-eval.jsonl, and
other-topic replies come from the same split, so no eval prompt or reply is seen in RM training (and an RM
started from the SFT model has not been trained on the eval replies either).

Why it is learnable: "shuffled" is a fluency judgement a language-model backbone makes from word order alone;
"other-topic" needs the reply to fit the prompt, and the three groups differ in vocabulary and form (code,
short factual answers, small talk about the bot), so a small model can tell most of them apart. What it teaches is on-topic fluency, not
helpfulness, truthfulness or harmlessness: a fluent on-topic wrong answer beats a shuffled right one, and
the chosen replies are whatever the corpus says (some are jokes, some are wrong).
"""
import argparse
import hashlib
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CONTEXT_MESSAGES = 5
# Coarse kinds of conversation (chatterbot-corpus file names). An other-topic reply comes from another group,
# not merely another file: "ai", "emotion" and "psychology" replies are all small talk about the bot, so a reply
# from one of them is often a fair answer to a prompt from another, and such a pair would be noise, not signal.
GROUPS = {
    "technical": {"coding", "computers", "tech_support"},
    "knowledge": {"trivia", "history", "science", "literature", "movies", "sports", "politics"},
    "chat": {"ai", "botprofile", "conversations", "emotion", "food", "gossip", "greetings", "health", "humor",
             "money", "psychology"},
}
GROUP_OF = {c: g for g, cats in GROUPS.items() for c in cats}
MIN_SHUFFLE_WORDS = 4


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def row_rng(kind, prompt, chosen):
    key = json.dumps([kind, prompt, chosen], ensure_ascii=False, sort_keys=True)
    return random.Random(int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16))


def shuffled(text, rng):
    words = text.split()
    if len(words) < MIN_SHUFFLE_WORDS:
        return None
    for _ in range(20):
        perm = words[:]
        rng.shuffle(perm)
        if perm != words:
            out = " ".join(perm)
            if out != " ".join(words):
                return out
    return None


def make_pairs(dialogues):
    # Every model reply of the split, in file order, with its category and the key of its prompt.
    replies = []
    for d in dialogues:
        for j, m in enumerate(d["messages"]):
            if m["role"] == "model":
                replies.append((d["category"], m["content"]))
    pairs, counts = [], {"other-topic": 0, "shuffled": 0, "shuffle-skipped": 0}
    for d in dialogues:
        msgs = d["messages"]
        for j, m in enumerate(msgs):
            if m["role"] != "model":
                continue
            prompt = msgs[max(0, j - CONTEXT_MESSAGES):j]
            chosen = m["content"]
            rng = row_rng("other-topic", prompt, chosen)
            pool = [r for c, r in replies if GROUP_OF[c] != GROUP_OF[d["category"]] and r != chosen]
            pairs.append({"prompt": prompt, "chosen": chosen, "rejected": rng.choice(pool),
                          "kind": "other-topic", "category": d["category"]})
            counts["other-topic"] += 1
            s = shuffled(chosen, row_rng("shuffled", prompt, chosen))
            if s is None:
                counts["shuffle-skipped"] += 1
                continue
            pairs.append({"prompt": prompt, "chosen": chosen, "rejected": s, "kind": "shuffled",
                          "category": d["category"]})
            counts["shuffled"] += 1
    return pairs, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=HERE)
    args = ap.parse_args()
    for src, dst in (("sft.jsonl", "preferences.jsonl"), ("sft-eval.jsonl", "preferences-eval.jsonl")):
        pairs, counts = make_pairs(read_jsonl(os.path.join(args.data_dir, src)))
        path = os.path.join(args.data_dir, dst)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for p in pairs:
                f.write(json.dumps(p, ensure_ascii=False) + "\n")
        print(f"{dst}: {len(pairs)} pairs ({', '.join(f'{k} {v}' for k, v in counts.items())}), "
              f"{os.path.getsize(path)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
