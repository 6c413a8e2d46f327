#!/usr/bin/env python3
"""Make the public-domain pretraining text: Configs/data/pretrain.jsonl and pretrain-eval.jsonl.

    python3 Configs/data/make_pretrain.py [--deb-dir DIR]

Sources (two Debian packages, both public domain; see README.md and LICENSES/):
  dict-devil  1.0-13.1   Ambrose Bierce, "The Devil's Dictionary" (1911; copyright expired).
  dict-jargon 4.4.7-3.1  "The Jargon File", version 4.4.7, 29 Dec 2003 (dedicated to the public domain).

The .deb files are fetched with `apt-get download PACKAGE=VERSION` into a temporary folder (Debian 12
"bookworm" has both versions; no root needed), or read from --deb-dir if they are
already there. They are unpacked here in Python (ar + tar), not installed. The dictd database files inside
(`*.dict.dz` is gzip, `*.index` lists each entry's headword, offset and length in base64) are checked against
the SHA-256 sums below, so the output is the same on every machine.

Each dictionary entry becomes one document {"text": ...}:
  - entries are taken in file order, each once (several headwords can point to one entry); the dictfmt
    header entries (00-database-*) are dropped;
  - a paragraph of wrapped prose is joined into one line (runs of spaces collapsed); verse, code, tables and
    other preformatted blocks keep their line breaks and relative indentation; paragraphs are separated by
    one blank line (the Devil's Dictionary also starts a paragraph at a first-line indent);
  - the dictfmt cross-reference braces are removed in prose ("see {bogus}" -> "see bogus"); code keeps its
    braces; no-break spaces become spaces and soft hyphens are removed (HTML-rendering artefacts);
  - a Jargon File entry starts with its headword line, e.g. "bogosity /boh·go's@·tee/, n.";
  - the few entries listed in EXCLUDE below are left out (slurs; see the comment there).
A document goes to pretrain-eval.jsonl when sha256("pretrain|<source>|<first line>") mod 100 < 5 (about 5%),
otherwise to pretrain.jsonl. Both keep the sources' order (Devil's Dictionary first, then the Jargon File).
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

SOURCES = [
    # (name, Debian package, version, dictionary member, index member)
    ("devils-dictionary", "dict-devil", "1.0-13.1", "./usr/share/dictd/devil.dict.dz", "./usr/share/dictd/devil.index"),
    ("jargon-file", "dict-jargon", "4.4.7-3.1", "./usr/share/dictd/jargon.dict.dz", "./usr/share/dictd/jargon.index"),
]
# SHA-256 of the uncompressed dictionary text (.dict) and of the .index of each source, as shipped.
EXPECTED_SHA256 = {
    "dict-devil": ("703d1225d2fb927653bfd8b00e4e96938e0b630c6023edd26702ac6ed50383f8",
                   "c53a3f8d1f889c44716782fe64796d162b7083d239545cf9e7e7c0a390d4ccde"),
    "dict-jargon": ("6c8118c277d0b00736d406d4941b77b69932d6ab125f7179ff88fe12939cc19e",
                    "ba834d4907f0f3eabc79644e2c3b85961e28b0fde92ae5ae24a44702bb5a98a9"),
}

EVAL_PERCENT = 5

# Entries left out on purpose (a judgement call, kept short and explicit): Bierce's entries whose joke is a
# racial or ethnic slur or stereotype, and the Jargon File entries that use sexual violence as casual slang.
# The rest is kept as written: 1881-1911 satire and 1990s hacker slang, with dated views and some profanity.
EXCLUDE = {
    "devils-dictionary": {"AFRICAN", "HATCHET", "HEBREW", "MINSTREL", "NEGRO", "RAZOR", "RED-SKIN", "RUSSIAN"},
    "jargon-file": {"rape", "relay rape"},
}
# Safety net: a document that still contains one of these is dropped too (and counted).
SLUR = re.compile(r"nigger", re.IGNORECASE)
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


# ----------------------------------------------------------------------------------------------------------
# Fetching and unpacking the Debian packages


def fetch_deb(package, version, deb_dir):
    """Path of package_version_all.deb in deb_dir, downloaded with apt-get if it is not there."""
    name = f"{package}_{version}_all.deb"
    path = os.path.join(deb_dir, name)
    if not os.path.exists(path):
        print(f"apt-get download {package}={version}", file=sys.stderr)
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=deb_dir, check=True)
    if not os.path.exists(path):
        sys.exit(f"error: {path} not found after apt-get download")
    return path


def deb_members(path, wanted):
    """{member: bytes} for the wanted paths inside the data.tar.* of a .deb (an ar archive)."""
    with open(path, "rb") as f:
        blob = f.read()
    if not blob.startswith(b"!<arch>\n"):
        sys.exit(f"error: {path} is not a Debian package (ar archive)")
    pos, data_tar = 8, None
    while pos < len(blob):
        header = blob[pos:pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = blob[pos + 60:pos + 60 + size]
        if name.startswith("data.tar"):
            data_tar = body
        pos += 60 + size + (size & 1)
    if data_tar is None:
        sys.exit(f"error: no data.tar in {path}")
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data_tar), mode="r:*") as tar:
        for m in tar.getmembers():
            if m.name in wanted:
                out[m.name] = tar.extractfile(m).read()
    missing = set(wanted) - set(out)
    if missing:
        sys.exit(f"error: {sorted(missing)} not in {path}")
    return out


def b64_number(s):
    n = 0
    for ch in s:
        n = n * 64 + B64.index(ch)
    return n


def dict_entries(dict_text: bytes, index_text: str):
    """The entries of a dictd database as UTF-8 strings, in file order, each once, without 00-database-*."""
    spans = set()
    for line in index_text.splitlines():
        if not line.strip():
            continue
        word, off, length = line.split("\t")[:3]
        if word.startswith("00database") or word.startswith("00-database"):
            continue
        spans.add((b64_number(off), b64_number(length)))
    return [dict_text[o:o + n].decode("utf-8") for o, n in sorted(spans)]


# ----------------------------------------------------------------------------------------------------------
# Cleaning

BOX = re.compile(r"[\u2500-\u257f]")
REF = re.compile(r"\{\s*([^{}]{1,80}?)\s*\}")


def indent_of(line):
    return len(line) - len(line.lstrip(" "))


def is_prose(lines):
    """Wrapped prose: no box drawing, no column alignment, every line but the last filled to >= 55 chars."""
    if any(BOX.search(l) for l in lines):
        return False
    if any(re.search(r"\S {3,}\S", l) for l in lines):
        return False
    if any(len(l.strip()) < 55 for l in lines[:-1]):
        return False
    # Continuation lines share one indentation (the first line may be indented more, as a paragraph start).
    return len({indent_of(l) for l in lines[1:]}) <= 1


def unref(text):
    def repl(m):
        inner = m.group(1)
        if re.search(r"[;=()<>]", inner):
            return m.group(0)
        return inner
    return REF.sub(repl, text)


def clean_entry(raw, jargon):
    raw = raw.replace("\u00a0", " ").replace("\u00ad", "").replace("\r", "")
    lines = raw.rstrip().split("\n")
    head = []
    if jargon:
        # "headword\n /pronunciation/, pos.\n\n    body..."  ->  "headword /pronunciation/, pos."
        word = lines[0].strip()
        rest = lines[1].strip() if len(lines) > 1 else ""
        if rest in ("//", ""):
            head = [word]
        else:
            rest = re.sub(r"^//,?\s*", "", rest)
            head = [f"{word} {rest}".strip()]
        lines = lines[2:]
    blocks, cur = [], []
    for line in lines:
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    if not jargon:
        # The Devil's Dictionary starts a paragraph inside a block with a first-line indent:
        # in a block whose text starts at column 0, every indented line opens a new paragraph.
        split = []
        for b in blocks:
            if min(indent_of(l) for l in b) > 0:
                split.append(b)
                continue
            cur = []
            for l in b:
                if indent_of(l) > 0 and cur:
                    split.append(cur)
                    cur = []
                cur.append(l)
            split.append(cur)
        blocks = split
    paras = []
    for b in blocks:
        if is_prose(b):
            paras.append(unref(" ".join(" ".join(l.split()) for l in b)))
        else:
            base = min(indent_of(l) for l in b)
            out = []
            for l in b:
                # right-aligned attributions (e.g. "    ...   G.J.") lose their padding
                out.append(l.strip() if indent_of(l) - base >= 30 else l[base:])
            paras.append("\n".join(out))
    text = "\n\n".join(head + paras).strip()
    return text


def bucket(key):
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % 100


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deb-dir", help="folder holding (or to receive) the .deb files; default: a temporary one")
    ap.add_argument("--out-dir", default=HERE)
    ap.add_argument("--no-verify", action="store_true", help="skip the SHA-256 checks of the source files")
    args = ap.parse_args()

    tmp = None
    deb_dir = args.deb_dir
    if deb_dir is None:
        tmp = tempfile.TemporaryDirectory()
        deb_dir = tmp.name
    os.makedirs(deb_dir, exist_ok=True)

    train, evals = [], []
    for name, package, version, dict_member, index_member in SOURCES:
        deb = fetch_deb(package, version, deb_dir)
        files = deb_members(deb, {dict_member, index_member})
        dict_text = gzip.decompress(files[dict_member])
        index_bytes = files[index_member]
        sums = (hashlib.sha256(dict_text).hexdigest(), hashlib.sha256(index_bytes).hexdigest())
        if not args.no_verify and sums != EXPECTED_SHA256[package]:
            sys.exit(f"error: {package} {version}: sha256 of (.dict, .index) is {sums}, expected "
                     f"{EXPECTED_SHA256[package]} (use --no-verify to accept a different build)")
        n = excluded = 0
        for raw in dict_entries(dict_text, index_bytes.decode("utf-8")):
            jargon = package == "dict-jargon"
            headword = raw.split("\n", 1)[0].strip() if jargon else raw.split(",", 1)[0].strip()
            text = clean_entry(raw, jargon=jargon)
            if not text:
                continue
            if headword in EXCLUDE[name] or SLUR.search(text):
                excluded += 1
                continue
            key = f"pretrain|{name}|{text.split(chr(10), 1)[0]}"
            (evals if bucket(key) < EVAL_PERCENT else train).append({"text": text})
            n += 1
        print(f"{package} {version}: {n} documents ({excluded} entries excluded)", file=sys.stderr)

    for fname, rows in (("pretrain.jsonl", train), ("pretrain-eval.jsonl", evals)):
        path = os.path.join(args.out_dir, fname)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        size = os.path.getsize(path)
        chars = sum(len(r["text"]) for r in rows)
        print(f"{fname}: {len(rows)} documents, {chars} characters, {size} bytes", file=sys.stderr)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
