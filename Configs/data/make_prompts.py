#!/usr/bin/env python3
"""Make the RL prompt files: Configs/data/prompts.jsonl and prompts-eval.jsonl.

    python3 Configs/data/make_prompts.py        (after make_preferences.py)

Each is the distinct prompts of a preference split, in first-seen order: prompts.jsonl from
preferences.jsonl (what `gemma-train rl` trains on; the reward model saw these prompts), prompts-eval.jsonl
from preferences-eval.jsonl (held out: `eval winrate` measures on them; no prompt of it is in the SFT,
reward or RL training data, as make_preferences.py splits by dialogue).
Rows look like {"prompt": [messages]}.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

for source, target in [("preferences.jsonl", "prompts.jsonl"), ("preferences-eval.jsonl", "prompts-eval.jsonl")]:
    seen, rows = set(), []
    with open(os.path.join(HERE, source), encoding="utf-8") as f:
        for line in f:
            prompt = json.loads(line)["prompt"]
            key = json.dumps(prompt, sort_keys=True, ensure_ascii=False)
            if key not in seen:
                seen.add(key)
                rows.append({"prompt": prompt})
    with open(os.path.join(HERE, target), "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{target}: {len(rows)} prompts from {source}")
