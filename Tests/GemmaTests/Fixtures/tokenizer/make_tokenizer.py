#!/usr/bin/env python3
"""Make the tokenizer and turn-format fixtures of GemmaTests (run by hand; the tests never need Python).

    python3 -m venv /tmp/tokvenv && /tmp/tokvenv/bin/pip install sentencepiece protobuf
    /tmp/tokvenv/bin/pip install trl          # optional: cross-checks the chat masks with HF/TRL
    /tmp/tokvenv/bin/python make_tokenizer.py [--corpus-out corpus.txt] [--bench-out bench.txt]

Writes next to this file:
  demo.model            a small Gemma-like SentencePiece BPE model (options of GEMMA.md "Tokenizer"),
                        trained on a corpus this script generates (prose, code, CJK, emoji, accents,
                        combining marks, digits, tabs, whitespace runs, markdown, newlines inside sentences).
  variant.model         demo.model edited: add_dummy_prefix and remove_extra_whitespaces on, byte_fallback off
                        (byte pieces become CONTROL), a few pieces UNUSED (exercises BPE resegmentation), a
                        custom unk_surface. It covers the non-Gemma branches of the encoder and decoder.
  expected_ids.json     {"demo": [{text, ids, decoded}], "variant": [...], "decode": [{model, ids, text}],
                         "vocab": {...}}: sentencepiece's ids for each test line, decode round trips, decodes
                        of hand-made id sequences (control tokens, byte pieces, broken UTF-8, unk).
  chat_cases.json       dialogues rendered in Gemma's turn format: ids (<bos> first) and loss masks computed
                        here independently (render, sentencepiece ids and byte offsets, "a token overlapping a
                        span is in it"), cross-checked against HF apply_chat_template(return_assistant_tokens_mask)
                        with TRL's gemma training templates when transformers/trl are installed.
"""
import argparse
import io
import json
import os
import random
import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

HERE = os.path.dirname(os.path.abspath(__file__))
USER_DEFINED = ["<start_of_turn>", "<end_of_turn>", "<mask>", "<unused0>", "<unused1>", "<unused10>",
                "<table>", "<tr>"]

# ----------------------------------------------------------------------------------------------------------
# Corpus


WORDS = """the of and to in a is that for it as was with be by on not he I this are or his from at which but
have an they you were her she there been one all we their has would when if will more no out so said what up
its about into than them can only other new some could time these two may then do first any my now such like
our over man me even most made after also did many before must through back years where much your way well
down should because each just those people how too little state good very make world still own see men work
long get here between both life being under never day same another know while last might us great old year
off come since against go came right used take three river mountain garden window letter morning evening
winter summer harbour lantern market bridge meadow forest village castle road journey story music silver
quietly slowly suddenly carefully bright dark cold warm gentle heavy ancient modern small large hidden open
walked carried watched remembered opened wrote found built crossed followed listened answered wondered
teacher sailor farmer baker painter doctor student engineer traveller merchant child mother father sister
brother friend stranger neighbour king queen captain clock candle stone paper kettle bread apple orange honey
library station island valley tower field ocean cloud storm rain snow wind light shadow fire water earth
compiler function variable tensor gradient matrix vector token model training dataset loss optimizer layer
""".split()

SENTENCE_FORMS = [
    "The {n} {v} the {n} near the {n}.",
    "A {a} {n} {v} across the {a} {n}, and nobody {v} it.",
    "When the {n} {v} the {n}, the {n} {v} {adv}.",
    "\"Where is the {n}?\" asked the {n}. \"It is under the {a} {n},\" said the {n}.",
    "In the {a} {n} there lived a {n} who {v} every {n}.",
    "{N} {v} {adv}; the {n} was {a} and the {n} was {a}.",
    "It was {a}, {a} and {a}, like a {n} in {month}.",
    "On {day}, {num} {n}s {v} the {n} at {time}.",
    "She {v} the {n} {adv} — then {v} it again.",
    "Why would a {n} ever {v0} a {n}? Because the {n} was {a}!",
]
NOUNS = "river mountain garden window letter morning harbour lantern market bridge meadow forest village castle road journey story music teacher sailor farmer baker painter doctor student engineer traveller merchant child stranger captain clock candle stone kettle library station island valley tower ocean cloud storm".split()
VERBS = "walked carried watched remembered opened wrote found built crossed followed answered painted".split()
VERBS0 = "carry watch remember open write find build cross follow answer paint".split()
ADJS = "bright dark cold warm gentle heavy ancient modern small large hidden open quiet golden narrow".split()
ADVS = "quietly slowly suddenly carefully happily twice again".split()
MONTHS = "January February March April May June July August September October November December".split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()

CODE = [
    '''func encode(_ text: String) -> [Int32] {
    var ids: [Int32] = []
    for scalar in text.unicodeScalars {
        ids.append(Int32(scalar.value))
    }
    return ids
}''',
    '''def train(model, data, steps=1000, lr=3e-4):
    for step in range(steps):
        loss = model.loss(data.next_batch())
        loss.backward()
        if step % 100 == 0:
            print(f"step {step}: loss {loss.item():.4f}")
''',
    '''#include <stdio.h>
int main(int argc, char **argv) {
\tfor (int i = 0; i < argc; i++) {
\t\tprintf("%d: %s\\n", i, argv[i]);
\t}
\treturn 0;
}''',
    '''{"name": "gemma", "hidden_size": 2048, "num_layers": 18, "vocab_size": 256000, "rope_theta": 10000.0}''',
    '''SELECT id, name, created_at FROM users WHERE age >= 21 ORDER BY created_at DESC LIMIT 10;''',
    '''let x = [1, 2, 3].map { $0 * 2 }  // [2, 4, 6]
if x.isEmpty { fatalError("unreachable") }''',
    '''<table>
  <tr><td>alpha</td><td>beta</td></tr>
  <tr><td>1.5</td><td>-2.25e-3</td></tr>
</table>''',
    '''    x = torch.randn(4, 16, 2048)
    y = layer_norm(x) * (1 + weight)
    assert y.shape == (4, 16, 2048)''',
    '''if [ -z "$HOME" ]; then echo "no home" >&2; exit 1; fi''',
]

CJK = [
    "机器学习是人工智能的一个分支。", "我们今天去公园散步，天气很好。", "这个模型有两千个词元。",
    "北京和上海都是大城市。", "他在图书馆里读了一本书。", "春眠不觉晓，处处闻啼鸟。",
    "今日は天気がいいですね。", "コンピューターで日本語を書きます。", "ひらがなとカタカナと漢字。",
    "東京駅から新幹線に乗りました。", "안녕하세요, 만나서 반갑습니다.", "한국어 문장도 조금 있습니다.",
    "数字１２３と全角ＡＢＣ。", "中文、日本語、한국어。",
]
EMOJI = ["😀", "🎉", "👍", "👍🏽", "👨‍👩‍👧", "🇫🇷", "🇯🇵", "❤️", "🔥", "🚀", "✨", "🙂", "🤖", "☕"]
ACCENTED = [
    "Le café est très agréable à Noël.", "Der Fußgänger überquert die Straße.", "El niño comió piñata en España.",
    "São Paulo é uma cidade enorme.", "Nguyễn Văn Anh sống ở Hà Nội.", "Ελληνικά γράμματα: αβγδε.",
    "Русский текст для проверки.", "Zürich, Kraków, Reykjavík, Malmö.", "naïve façade coöperate résumé",
    "العربية لغة جميلة.", "עברית היא שפה.", "हिन्दी में लिखा गया वाक्य।",
]
COMBINING = ["e\u0301te\u0301", "cafe\u0301", "a\u0308o\u0308u\u0308", "n\u0303", "Z\u0351\u0352a\u0327l\u0300g\u0301o\u0303",
             "\u0915\u094d\u0937"]
MARKDOWN = [
    "# Title\n\nSome text here.", "## Steps\n- first item\n- second item\n- third item",
    "* bullet one\n* bullet two", "1. one\n2. two\n3. three", "**bold** and _italic_ and `code`",
    "> quoted line\n> another", "| a | b |\n|---|---|\n| 1 | 2 |", "---\n\n***",
]


def sentence(rng):
    form = rng.choice(SENTENCE_FORMS)
    out = []
    i = 0
    while i < len(form):
        if form[i] == "{":
            j = form.index("}", i)
            key = form[i + 1:j]
            val = {
                "n": lambda: rng.choice(NOUNS), "N": lambda: rng.choice(NOUNS).capitalize(),
                "v": lambda: rng.choice(VERBS), "v0": lambda: rng.choice(VERBS0), "a": lambda: rng.choice(ADJS),
                "adv": lambda: rng.choice(ADVS), "month": lambda: rng.choice(MONTHS),
                "day": lambda: rng.choice(DAYS), "num": lambda: str(rng.randint(2, 9999)),
                "time": lambda: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
            }[key]()
            out.append(val)
            i = j + 1
        else:
            out.append(form[i])
            i += 1
    return "".join(out)


def prose(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
    s = " ".join(words)
    return s[0].upper() + s[1:] + rng.choice([".", ".", ".", "!", "?", ";", ","])


def paragraph(rng):
    kind = rng.random()
    if kind < 0.45:
        sents = [sentence(rng) if rng.random() < 0.6 else prose(rng) for _ in range(rng.randint(2, 6))]
        return " ".join(sents)
    if kind < 0.55:
        return rng.choice(CODE)
    if kind < 0.65:
        return "".join(rng.choice(CJK) for _ in range(rng.randint(1, 4)))
    if kind < 0.72:
        return " ".join(rng.choice(ACCENTED) for _ in range(rng.randint(1, 3)))
    if kind < 0.77:
        return sentence(rng) + " " + "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 4)))
    if kind < 0.80:
        return rng.choice(COMBINING) + " " + sentence(rng)
    if kind < 0.86:
        return rng.choice(MARKDOWN)
    if kind < 0.90:
        n = rng.randint(0, 10 ** rng.randint(1, 9))
        return f"Total: {n} items, {rng.random():.6f} ratio, phone +1-555-{rng.randint(1000, 9999)}, 2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}."
    if kind < 0.94:
        return sentence(rng) + " " * rng.randint(2, 9) + sentence(rng) + "\t" * rng.randint(1, 3) + sentence(rng)
    u, m = sentence(rng), sentence(rng)
    return f"<start_of_turn>user\n{u}<end_of_turn>\n<start_of_turn>model\n{m}<end_of_turn>"


def make_corpus(seed, target_bytes):
    rng = random.Random(seed)
    paras, size = [], 0
    while size < target_bytes:
        p = paragraph(rng)
        paras.append(p)
        size += len(p.encode()) + 1
    return paras


# ----------------------------------------------------------------------------------------------------------
# Test lines: edge cases first, then a sample of corpus paragraphs.

EDGE_LINES = [
    "", " ", "  ", "   ", "\t", "\n", "\n\n\n", " \t \n ", "a", "Hello", "Hello world", "hello  world",
    "  leading spaces", "trailing spaces   ", "tabs\tbetween\twords", "mixed \t\t  whitespace \n runs",
    "The quick brown fox jumps over the lazy dog.", "0", "1234567890", "3.14159 2.71828 -42 +7 1e-9",
    "phone: +1 (555) 123-4567", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "==========", "----------------",
    "          ten spaces", "x" + " " * 40 + "y", "ababababababababab", "mississippi",
    "机器学习", "今日は", "한국어", "中文、日本語、한국어。", "𠀋𡈽𡌛", "龘靐齉",
    "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷🇯🇵", "❤️", "🤖 robots 🤖", "🫠🪿", "\U0001F9D1\u200D\U0001F4BB",
    "café", "Straße", "naïve", "Nguyễn", "Ελληνικά", "Русский", "العربية", "עברית", "हिन्दी",
    "e\u0301", "cafe\u0301", "a\u0308\u0308\u0308", "\u0301 leading combining", "Z\u0351\u0352a\u0327l\u0300g\u0301o\u0303",
    "\u00a0nbsp\u00a0", "zero\u200bwidth", "bidi \u202eoverride\u202c", "\ufeffbom", "\ufffd replacement",
    "\x00nul\x00", "\x01\x02\x7f control", "\u2581 literal lower one eighth block \u2581\u2581",
    "<start_of_turn>", "<end_of_turn>", "<start_of_turn>user\nHi there<end_of_turn>\n",
    "<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\n", "text<mask>text", "<mask><mask>",
    "<unused1>", "<unused10>", "<unused100>", "<unused1><unused10><unused0>", "<start_of_turn <end_of_turn>>",
    "<bos> is control, not matched", "<eos><pad><unk>", "<0x41> literal byte piece text", "<table><tr>",
    "func f(x: Int) -> Int {\n    return x * 2\n}", "\tindented\n\t\tdouble", "if (a && b) { c(); }",
    "# Title\n\n- item\n- item", "**bold**", "http://example.com/path?q=1&r=2#frag", "user@example.org",
    "Ünïcödé ✓ ✗ → ← ∑ ∫ √ ∞ ≠ ≤ ≥", "½ ¼ ¾ ² ³ ℃ ™ ©", "Ｆｕｌｌｗｉｄｔｈ　ｓｐａｃｅ", "ﬁ ligature",
    "\u3000ideographic space\u3000", "line one\r\nline two\r\n", "end with newline\n",
]


def sample_corpus_lines(paras, n, seed):
    rng = random.Random(seed)
    return rng.sample(paras, n)


# ----------------------------------------------------------------------------------------------------------
# Models


def train_demo(paras):
    m = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(paras), model_writer=m, model_type="bpe", vocab_size=3000,
        byte_fallback=True, split_digits=True, add_dummy_prefix=False, remove_extra_whitespaces=False,
        normalization_rule_name="identity", allow_whitespace_only_pieces=True,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
        unk_piece="<unk>", user_defined_symbols=USER_DEFINED, character_coverage=1.0,
        max_sentence_length=16384, num_threads=1, minloglevel=2)
    return m.getvalue()


def make_variant(demo_bytes):
    proto = pb.ModelProto()
    proto.ParseFromString(demo_bytes)
    proto.normalizer_spec.add_dummy_prefix = True
    proto.normalizer_spec.remove_extra_whitespaces = True
    proto.trainer_spec.byte_fallback = False
    proto.trainer_spec.unk_surface = "<?>"
    rng = random.Random(7)
    n_unused = 0
    for p in proto.pieces:
        if p.type == pb.ModelProto.SentencePiece.BYTE:
            p.type = pb.ModelProto.SentencePiece.CONTROL
        elif p.type == pb.ModelProto.SentencePiece.NORMAL and len(p.piece) >= 3 and rng.random() < 0.05:
            p.type = pb.ModelProto.SentencePiece.UNUSED
            n_unused += 1
    assert n_unused > 20
    return proto.SerializeToString()


# ----------------------------------------------------------------------------------------------------------
# Turn format, rendered here independently of the Swift code.



def render(messages, add_generation_prompt=False, fold_system=False):
    """Returns (text without <bos>, [(start, end)] code point spans of the model replies + <end_of_turn>\\n)."""
    prefix = ""
    if messages and messages[0]["role"] == "system":
        assert fold_system
        prefix = messages[0]["content"] + "\n\n"  # as gemma3.jinja: the system text is not trimmed
        messages = messages[1:]
    text, spans = "", []
    for i, m in enumerate(messages):
        role = "model" if m["role"] in ("model", "assistant") else m["role"]
        assert (role == "user") == (i % 2 == 0)
        text += "<start_of_turn>" + role + "\n"
        if role == "model":
            start = len(text)
            text += m["content"].strip() + "<end_of_turn>\n"
            spans.append((start, len(text)))
        else:
            text += (prefix if i == 0 else "") + m["content"].strip() + "<end_of_turn>\n"
    if add_generation_prompt:
        text += "<start_of_turn>model\n"
    return text, spans


def token_char_ranges(sp, text):
    """Code point [start, end) of each token; byte-fallback tokens of one character share its range (as HF)."""
    spt = sp.encode(text, return_type="proto")
    raw = text.encode()
    byte_to_char = {}
    c = 0
    for i, ch in enumerate(text):
        byte_to_char[c] = i
        c += len(ch.encode())
    byte_to_char[c] = len(text)
    ranges = [[byte_to_char[p.begin], byte_to_char[p.end]] for p in spt.pieces]
    for i in range(len(ranges) - 2, -1, -1):  # non-final byte pieces carry an empty range: use the final one's
        if ranges[i][0] == ranges[i][1] and spt.pieces[i].piece.startswith("<0x"):
            ranges[i] = list(ranges[i + 1])
    assert len(raw) == c
    return [p.id for p in spt.pieces], ranges


def chat_case(sp, bos_id, messages, add_generation_prompt=False, fold_system=False):
    text, spans = render(messages, add_generation_prompt, fold_system)
    ids, ranges = token_char_ranges(sp, text)
    mask = [0] * len(ids)
    for k, (s, e) in enumerate(ranges):
        if any(e > a and s < b for a, b in spans):
            mask[k] = 1
    return {"messages": messages, "add_generation_prompt": add_generation_prompt, "fold_system": fold_system,
            "text": text, "ids": [bos_id] + ids, "mask": [0] + mask}


DIALOGUES = [
    ([{"role": "user", "content": "Hello!"}, {"role": "assistant", "content": "Hi, how can I help?"}], False, False),
    ([{"role": "user", "content": "  What is 2+2?\n"}, {"role": "model", "content": "\n4\n\n"},
      {"role": "user", "content": "And 3+3?"}, {"role": "assistant", "content": "6."}], False, False),
    ([{"role": "user", "content": "List two fruits."},
      {"role": "assistant", "content": "- apple\n- orange"}], False, False),
    ([{"role": "user", "content": "Write a heading"}, {"role": "assistant", "content": "## Steps\n- first"}],
     False, False),
    ([{"role": "user", "content": "Say something in Japanese."},
      {"role": "assistant", "content": "今日は天気がいいですね。🌸"}], False, False),
    ([{"role": "user", "content": "Only a prompt"}], True, False),
    ([{"role": "user", "content": "first"}, {"role": "assistant", "content": "second"},
      {"role": "user", "content": "third"}], True, False),
    ([{"role": "user", "content": "empty reply next"}, {"role": "assistant", "content": "   "}], False, False),
    ([{"role": "system", "content": "You are terse."}, {"role": "user", "content": " Hi "},
      {"role": "assistant", "content": "Hello."}], False, True),
    ([{"role": "user", "content": "Code please"},
      {"role": "assistant", "content": "```swift\nlet x = 1\n```"}], False, False),
    ([{"role": "user", "content": "\u0301combining first"},
      {"role": "assistant", "content": "\u0301e\u0301 starts with a combining mark\u3000"}], False, False),
    ([{"role": "user", "content": "tabs"}, {"role": "assistant", "content": "\ta\tb\t"}], False, False),
    ([{"role": "user", "content": "emoji"}, {"role": "assistant", "content": "\U0001F9D1\u200D\U0001F4BB works"}],
     False, False),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "**bold** start"}], False, False),
    ([{"role": "user", "content": "\x1f\u00a0\u2003 Python's strip() whitespace \x1c\u3000"},
      {"role": "assistant", "content": " \u0301accent after a space \u200b"}], False, False),
    ([{"role": "system", "content": "  System text is not trimmed.  "}, {"role": "user", "content": "ok?"}],
     True, True),
    ([{"role": "user", "content": "<start_of_turn> typed inside a message"},
      {"role": "model", "content": "a reply with <end_of_turn> inside"}], False, False),
]


def hf_check(model_path, cases):
    """Cross-checks ids and masks with transformers' apply_chat_template and TRL's Gemma training templates."""
    try:
        import shutil
        import tempfile
        from transformers import AutoTokenizer
        from trl.chat_template_utils import gemma_training_chat_template, gemma3_training_chat_template
    except Exception as e:  # noqa: BLE001
        print(f"HF/TRL cross-check skipped: {e}", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory() as d:  # HF converts tokenizer.model to its fast (Rust) tokenizer
        shutil.copy(model_path, os.path.join(d, "tokenizer.model"))
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump({"tokenizer_class": "GemmaTokenizer"}, f)
        tok = AutoTokenizer.from_pretrained(d)
    checked = 0
    for case in cases:
        msgs = [dict(m, role="assistant" if m["role"] == "model" else m["role"]) for m in case["messages"]]
        template = gemma3_training_chat_template if case["fold_system"] else gemma_training_chat_template
        out = tok.apply_chat_template(msgs, chat_template=template, tokenize=True, return_dict=True,
                                      return_assistant_tokens_mask=True,
                                      add_generation_prompt=case["add_generation_prompt"])
        ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
        if ids != case["ids"]:
            raise SystemExit(f"HF ids differ from sentencepiece for {case['messages']}:\n{ids}\n{case['ids']}")
        if mask != case["mask"]:
            raise SystemExit(f"HF mask differs for {case['messages']}:\n{mask}\n{case['mask']}")
        checked += 1
    return checked


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus-out", help="also write the training corpus here (one paragraph per line, JSON)")
    ap.add_argument("--bench-out", help="also write a ~8 MB benchmark text file here (paragraphs, newline-free)")
    args = ap.parse_args()

    paras = make_corpus(seed=1234, target_bytes=300_000)
    demo = train_demo(paras)
    variant = make_variant(demo)
    for name, data in (("demo.model", demo), ("variant.model", variant)):
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    sp = spm.SentencePieceProcessor(model_proto=demo)
    spv = spm.SentencePieceProcessor(model_proto=variant)
    assert sp.bos_id() == 2 and sp.eos_id() == 1 and sp.pad_id() == 0 and sp.unk_id() == 3

    # Two long lines (> 4 KB: the Swift encoder merges them in chunks that start at a space after a word).
    long_lines = [" ".join(sample_corpus_lines(paras, 40, seed=5)), "  ".join(sample_corpus_lines(paras, 40, seed=6))]
    lines = EDGE_LINES + long_lines + sample_corpus_lines(paras, 250, seed=99)
    expected = {"demo": [], "variant": [], "decode": []}
    for text in lines:
        ids = sp.encode(text)
        expected["demo"].append({"text": text, "ids": ids, "decoded": sp.decode(ids)})
        vids = spv.encode(text)
        expected["variant"].append({"text": text, "ids": vids, "decoded": spv.decode(vids)})

    def pid(s, p):
        i = s.piece_to_id(p)
        assert s.id_to_piece(i) == p, p
        return i
    hello = sp.encode("Hello")
    decode_seqs = [
        [2] + hello + [1], [0, 0] + hello, [pid(sp, "<0xC3>"), pid(sp, "<0xA9>")], [pid(sp, "<0xC3>")],
        [pid(sp, "<0x80>")] + hello, [pid(sp, "<0xE2>"), pid(sp, "<0x82>")] + hello + [pid(sp, "<0xF0>")],
        [pid(sp, "<0xF0>"), pid(sp, "<0x9F>"), pid(sp, "<0x98>"), pid(sp, "<0x80>")], [3], hello + [3, 3] + hello,
        sp.encode(" hello"), sp.encode("  two leading"), [pid(sp, "\u2581")] + hello, [4, 5, 6, 7],
        [2, 106 if sp.get_piece_size() > 106 else 4], list(range(0, 300)),
    ]
    for ids in decode_seqs:
        expected["decode"].append({"model": "demo", "ids": ids, "text": sp.decode(ids)})
    vhello = spv.encode("Hello")
    for ids in ([pid(spv, "\u2581")] + vhello, [pid(spv, "\u2581"), pid(spv, "\u2581")] + vhello,
                spv.encode("  two leading"), [2, pid(spv, "\u2581")] + vhello, [3] + vhello, vhello + [3],
                [pid(spv, "<0x41>")] + vhello, list(range(0, 300))):
        expected["decode"].append({"model": "variant", "ids": ids, "text": spv.decode(ids)})
    expected["vocab"] = {
        "size": sp.get_piece_size(), "bos": sp.bos_id(), "eos": sp.eos_id(), "pad": sp.pad_id(), "unk": sp.unk_id(),
        "pieces": {p: sp.piece_to_id(p) for p in USER_DEFINED + ["<bos>", "<eos>", "<pad>", "<unk>", "<0x00>",
                                                                "<0xFF>", "\u2581", "\n"]},
        "user_defined": USER_DEFINED,
    }
    with open(os.path.join(HERE, "expected_ids.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, separators=(",", ":"))

    cases = [chat_case(sp, sp.bos_id(), m, g, s) for m, g, s in DIALOGUES]
    checked = hf_check(os.path.join(HERE, "demo.model"), cases)
    straddles = sum(1 for c in cases for k in range(1, len(c["ids"]))
                    if c["mask"][k] and not c["mask"][k - 1] and sp.id_to_piece(c["ids"][k]).startswith("\n"))
    with open(os.path.join(HERE, "chat_cases.json"), "w", encoding="utf-8") as f:
        json.dump({"hf_checked": checked, "cases": cases}, f, ensure_ascii=False, separators=(",", ":"))
    print(f"demo.model: {len(demo)} bytes, {sp.get_piece_size()} pieces; variant.model: {len(variant)} bytes")
    print(f"{len(lines)} test lines; {len(cases)} dialogues, {straddles} with a token straddling the header/reply "
          f"boundary; HF/TRL cross-checked: {checked}")

    if args.corpus_out:
        with open(args.corpus_out, "w", encoding="utf-8") as f:
            for p in paras:
                f.write(json.dumps(p, ensure_ascii=False) + "\n")
    if args.bench_out:
        rng = random.Random(5)
        with open(args.bench_out, "w", encoding="utf-8") as f:
            size = 0
            while size < 8_000_000:
                p = rng.choice(paras).replace("\n", " ").replace("\r", " ")
                f.write(p + "\n")
                size += len(p.encode()) + 1


if __name__ == "__main__":
    main()
