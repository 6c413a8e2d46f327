#!/usr/bin/env python3
"""Reads a GemmaTrain checkpoint with h5py and checks it: an outside check that the files
Sources/Training/Checkpoints/CheckpointWriter.swift (version 2) and Sources/Gemma/IO/ModelFile.swift
(version 1) write are ordinary HDF5 that other tools read (layout: Docs/Checkpoints.md).

    pip install h5py
    python3 check_checkpoint_h5py.py RUN_DIR_OR_FILE

A directory means the checkpoint its `latest` marker names (else the newest ckpt-*.h5). Prints the
attributes of /, /optimizer and /state, then every dataset with its shape, dtype and Fletcher-32 flag,
reading each in full (h5py verifies the checksums); checks that /params holds exactly the parameters
the config implies, with their shapes, and (version 2) that /optimizer/m and /optimizer/v mirror
/params. Exits 1 on any problem.

Make a file to check with the Swift tests: GEMMATRAIN_CKPT_OUT=/tmp/ckpt swift test --filter
CheckpointFileTests.testRoundTripOfStateAndEveryTensor (the test then also writes its checkpoint there).
"""
import json
import os
import re
import sys

import h5py


def pick_file(path):
    if not os.path.isdir(path):
        return path
    marker = os.path.join(path, "latest")
    if os.path.exists(marker):
        name = open(marker).read().strip()
        if os.path.exists(os.path.join(path, name)):
            return os.path.join(path, name)
    names = sorted((n for n in os.listdir(path) if re.fullmatch(r"ckpt-\d{8,}\.h5", n)),
                   key=lambda n: int(n[5:-3]))
    if not names:
        sys.exit(f"{path}: no checkpoint")
    return os.path.join(path, names[-1])


def expected_params(config, kind):
    """HF names and shapes of a Gemma model's parameters (lm_head tied, absent)."""
    d, f = config["hidden_size"], config["intermediate_size"]
    heads, kv = config["num_attention_heads"], config.get("num_key_value_heads", config["num_attention_heads"])
    hd = config.get("head_dim", d // heads)
    params = {"model.embed_tokens.weight": (config["vocab_size"], d), "model.norm.weight": (d,)}
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        params.update({
            p + "input_layernorm.weight": (d,), p + "post_attention_layernorm.weight": (d,),
            p + "self_attn.q_proj.weight": (heads * hd, d), p + "self_attn.k_proj.weight": (kv * hd, d),
            p + "self_attn.v_proj.weight": (kv * hd, d), p + "self_attn.o_proj.weight": (d, heads * hd),
            p + "mlp.gate_proj.weight": (f, d), p + "mlp.up_proj.weight": (f, d), p + "mlp.down_proj.weight": (d, f),
        })
    if kind == "reward-model":
        params["score.weight"] = (1, d)
    return params


def show(value):
    if isinstance(value, bytes):
        value = value.decode()
    text = repr(value) if not hasattr(value, "tolist") else repr(value.tolist())
    return text if len(text) <= 100 else text[:97] + "..."


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = pick_file(sys.argv[1])
    problems = []
    with h5py.File(path, "r") as f:
        print(f"file: {path}")
        for group in ("/", "/optimizer", "/state"):
            if group in f:
                for key, value in sorted(f[group].attrs.items()):
                    print(f"  {group.rstrip('/')}@{key} = {show(value)}")
        version = f.attrs["version"].decode() if isinstance(f.attrs["version"], bytes) else f.attrs["version"]
        kind = f.attrs["kind"].decode() if isinstance(f.attrs["kind"], bytes) else f.attrs["kind"]
        config = json.loads(f.attrs["config"])

        datasets = []
        f.visititems(lambda name, obj: datasets.append("/" + name) if isinstance(obj, h5py.Dataset) else None)
        for name in datasets:
            dset = f[name]
            try:
                dset[...]  # reads every chunk; a damaged one raises
                status = "ok"
            except OSError as error:
                status = f"FAILED: {error}"
                problems.append(f"{name}: {error}")
            if not dset.fletcher32 and dset.size > 0:
                problems.append(f"{name}: no Fletcher-32 checksum")
            print(f"  {name} {list(dset.shape)} {dset.dtype} fletcher32={dset.fletcher32} {status}")

        expected = expected_params(config, kind)
        found = {n[len("/params/"):]: tuple(f[n].shape) for n in datasets if n.startswith("/params/")}
        for name, shape in sorted(expected.items()):
            if name not in found:
                problems.append(f"/params/{name}: missing")
            elif found[name] != shape:
                problems.append(f"/params/{name}: shape {list(found[name])}, the config implies {list(shape)}")
        problems += [f"/params/{n}: not a parameter of the config" for n in sorted(set(found) - set(expected))]
        if version == "2":
            for group in ("/optimizer/m/", "/optimizer/v/"):
                moments = {n[len(group):]: tuple(f[n].shape) for n in datasets if n.startswith(group)}
                if moments != found:
                    problems.append(f"{group}: names or shapes differ from /params")
            for key in ("step", "tokens_seen", "run_config", "created", "code_revision"):
                if key not in f.attrs:
                    problems.append(f"/@{key}: missing")
        print(f"{len(expected)} parameters expected from the config ({kind}, version {version}); "
              f"{len(datasets)} datasets read")
    for problem in problems:
        print(f"PROBLEM {path}: {problem}")
    print("ok" if not problems else f"{len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
