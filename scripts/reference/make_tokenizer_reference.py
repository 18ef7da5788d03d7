#!/usr/bin/env python3
"""Reference data for Tessera's SentencePiece-style BPE (byte fallback) tokenizer.

Reads one of Mistral's SentencePiece models from the `mistral-common` wheel and writes into OUT:
  - tokenizer.model.v1 (the Llama-2-style 32000-piece BPE with byte fallback of Mistral 7B v0.1)
    → Tests/Fixtures/reference/sentencepiece
  - mistral_instruct_tokenizer_240323.model.v3 (the 32768-piece v3 model of Mistral 7B v0.3 /
    Mixtral 8x22B: the v1 pieces plus 768 pieces in front, control tokens [INST], [/INST],
    [TOOL_CALLS], [AVAILABLE_TOOLS]... [control_748] and user-defined [REFERENCE_DOC_0..19])
    → Tests/Fixtures/reference/sentencepiece-v3
A model with control or user-defined pieces besides <unk>, <s>, </s> (v3) gets extra strings that
use them (model_cases, a second batch of random strings drawing them), extra decode sequences and,
when it has user-defined pieces, `ids_added_tokens_as_text`; for v1 nothing changes.

  tokenizer.json          the model converted by transformers' LlamaConverter
                          (LlamaTokenizerFast(vocab_file, legacy=True, add_prefix_space=True,
                          from_slow=True)), the shape Llama 2 / Mistral 7B ship: normalizer
                          Prepend("▁") + Replace(" ", "▁"), decoder Replace / ByteFallback / Fuse /
                          Strip, merges ranked by piece score. Written compactly.
  tokenizer_config.json   as save_pretrained writes it.
  tokenizer.gguf          a GGUF holding only the tokenizer metadata llama.cpp's converter writes
                          for a SentencePiece model (tokenizer.ggml.model = llama, tokens, scores,
                          token types, special ids, add_bos/add_eos/add_space_prefix); no tensors.
  cases.json              every test string encoded by sentencepiece (the .model) and by
                          tokenizers (tokenizer.json, and its Metaspace prepend_scheme="first"
                          variant), with decoded text; plus hand-made id sequences for decoding
                          (byte pieces, invalid UTF-8). Disagreements are listed in the file.
                          With user-defined pieces also `ids_added_tokens_as_text`: every added
                          token read as text (tokenizers with all of them special and
                          encode_special_tokens; sentencepiece with user-defined pieces made
                          control pieces), as opposed to `ids_specials_as_text`, where both
                          tokenizers and sentencepiece still split user-defined pieces off.

Usage (scratch venv; no torch), with work=$(mktemp -d):
  python3 -m venv "$work/spm-venv"
  "$work/spm-venv"/bin/pip install sentencepiece==0.2.3 tokenizers==0.22.2 transformers==4.57.1 \
      protobuf==7.36.2 gguf==0.19.0 numpy==2.4.6
  pip download --no-deps mistral-common==1.13.1 -d "$work/mc" && unzip -o "$work"/mc/*.whl -d "$work/mc"
  "$work/spm-venv"/bin/python scripts/reference/make_tokenizer_reference.py \
      --model "$work"/mc/mistral_common/data/tokenizer.model.v1 \
      --out Tests/Fixtures/reference/sentencepiece
  "$work/spm-venv"/bin/python scripts/reference/make_tokenizer_reference.py \
      --model "$work"/mc/mistral_common/data/mistral_instruct_tokenizer_240323.model.v3 \
      --out Tests/Fixtures/reference/sentencepiece-v3
(transformers 5.x builds these files differently; 4.57.1 writes the shape Llama 2 / Mistral ship.
The versions used are recorded in cases.json and in each folder's README.md.)
"""
import argparse
import hashlib
import importlib.metadata
import json
import os
import random
import shutil
import sys
import tempfile

import gguf
import numpy as np
import sentencepiece as spm
import tokenizers
import transformers
from sentencepiece import sentencepiece_model_pb2 as model_pb2
from tokenizers import Tokenizer
from transformers import LlamaTokenizerFast

# sentencepiece piece types (ModelProto.SentencePiece.Type).
CONTROL, USER_DEFINED = 3, 4


def hand_written():
    """(category, text) pairs written by hand."""
    cases = []

    def add(category, *texts):
        cases.extend((category, t) for t in texts)

    add("english",
        "Hello world", "Hello, world!", "The quick brown fox jumps over the lazy dog.",
        "hello", "Hello", "HELLO", "I'm sure you'll see it's fine, isn't it?",
        "Don't stop believing.", "A", "a", "I", "tokenization", "antidisestablishmentarianism",
        "Supercalifragilisticexpialidocious", "e-mail: someone@example.com",
        "https://example.com/path?query=1&b=2#frag", "C'est la vie.", "naïve café résumé",
        "Mr. Smith went to Washington D.C. in 1999.", "The end.", "yes/no", "(parenthesised)",
        "\"quoted\"", "'single'", "semi;colon:colon", "under_score", "CamelCaseWords", "snake_case_words",
        "kebab-case-words", "ALLCAPS and lowercase", "re-enter", "co-operate", "a.b.c.d")
    add("multilingual",
        "Bonjour le monde", "Hallo Welt, wie geht's?", "¿Dónde está la biblioteca?", "Olá, tudo bem?",
        "Привет, мир!", "Γειά σου Κόσμε", "Witaj świecie", "Merhaba dünya", "Xin chào thế giới",
        "你好，世界", "中华人民共和国", "我爱自然语言处理。", "日本語のテキストです。", "こんにちは世界",
        "カタカナとひらがな", "안녕하세요 세계", "한국어 문장입니다.", "مرحبا بالعالم", "اللغة العربية جميلة",
        "שלום עולם", "नमस्ते दुनिया", "हिन्दी भाषा", "สวัสดีชาวโลก", "ภาษาไทย", "Ελληνικά", "ქართული",
        "Հայերեն", "Tiếng Việt có dấu", "Þetta er íslenska", "Ñandú ñoño", "Zürich Straße",
        "ﬁ ligature", "Ａｎｇｌｅ ｆｕｌｌｗｉｄｔｈ", "ℌ𝔢𝔩𝔩𝔬 𝔣𝔯𝔞𝔨𝔱𝔲𝔯", "𠀀𠀁𠀂 rare CJK", "Ꭰ Cherokee",
        "ᚠᚢᚦᚨᚱᚲ runes", "ⴰⵣⵓⵍ Tifinagh", "Ελληνικά και English mixed 中文")
    add("emoji",
        "🙂", "I love 🍕 and 🍣!", "👍🏽", "👨‍👩‍👧‍👦 family", "🇫🇷🇯🇵 flags", "❤️", "✨✨✨", "🤖 robot",
        "😀😃😄😁😆😅😂🤣", "🧑🏻‍💻 coder", "☕ coffee", "⭐️ star", "🏳️‍🌈", "a🙂b", " 🙂 ")
    add("code",
        "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) { sum += a[i]; }",
        "let x: [Int] = [1, 2, 3]", "#include <stdio.h>\nint main(void) { return 0; }",
        "SELECT * FROM users WHERE id = 42;", "<div class=\"x\">text</div>", "{\"key\": [1, 2, {\"a\": null}]}",
        "if a == b and not c:\n\tpass", "x += 1  # comment", "fn main() -> Result<(), Box<dyn Error>> {}",
        "λx.x + 1", "a && b || !c", "$HOME/bin:$PATH", "std::vector<std::string> v;", "0x7FFF_FFFF",
        "console.log(`template ${literal}`);", "// TODO: fix\n/* block */", "@decorator\nclass A: ...",
        "    indented four", "\tindented tab", "\t\tdouble tab", "import numpy as np\nnp.zeros((3, 4))")
    add("whitespace",
        " ", "  ", "   ", "    ", "        ", "\t", "\n", "\n\n", "\r\n", " \n ", "a  b", "a   b", "a    b",
        "a\tb", "a\nb", "a\n\nb", " leading", "  two leading", "trailing ", "trailing  ", " both ",
        "\u00a0non-breaking\u00a0space", "ideographic\u3000space", "tabs\t\tand\tspaces  mixed \n",
        "line1\nline2\nline3", "\n\n\nthree newlines first", "end with newline\n", "x \t y", "▁", "▁▁ text",
        "a▁b", " ▁ ", "\u2028line separator", "zero\u200bwidth\u200bspace", "\u200d", "\u00ad soft hyphen")
    add("digits",
        "0", "7", "42", "123", "2024", "1234567890", "3.14159", "1,000,000", "-273.15", "1e-10", "12:30",
        "+33 1 23 45 67 89", "٠١٢٣٤٥٦٧٨٩", "１２３", "²³¹", "Ⅻ roman", "v1.2.3", "IPv4 192.168.0.1",
        "Call 555-0199 now", "2^32 = 4294967296")
    add("special",
        "<s>", "</s>", "<unk>", "<s>Hello", "Hello</s>", "<s> Hello</s>", "<s>[INST] What is 2+2? [/INST] 4</s>",
        "[INST] Hi [/INST]", "text <s> more", "a</s>b", "</s></s>", "<s><s>", "<s> ", " <s>", "<s>\n",
        "<<s>>", "<s", "s>", "</s", "<unk> unknown", "x<unk>y")
    add("bytes",
        "<0x41>", "<0x0A>", "\x00", "\x01\x02\x03", "\x07 bell", "\x1b[31mred\x1b[0m", "\x7f", "\uffff",
        "\ue000 private use", "\U0010fffd", "\ufeffBOM", "\u0301 combining", "e\u0301", "Å", "A\u030a",
        "\u202eRTL override", "𝕏", "🀄", "\U0001F9EC dna")
    add("long",
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
        "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut "
        "aliquip ex ea commodo consequat.",
        "Tessera trains LoRA and QLoRA adapters on CPU clusters; every rank must tokenize identically.\n\n"
        "## Heading\n\n- item one\n- item two\n\n```python\nprint('hi')\n```\n",
        " ".join(["word"] * 60), "ab" * 100, "\n".join(f"{i}. line {i}" for i in range(20)),
        "The year 2023 had 365 days; 2024 has 366. 東京は日本の首都です。 مرحبا 🙂 done")
    return cases


def generated(count, seed=17, extra_pool=(), category="random"):
    """Random strings over a mixed alphabet (and `extra_pool`), fixed seed."""
    rng = random.Random(seed)
    pool = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 3
            + list(" " * 30) + list("\t\n.,;:!?'\"()[]{}<>/\\-_=+*&^%$#@~`|")
            + list("éèêàçñöüßøåæœ") + list("中文字日本語한국어") + list("ابتثجح") + list("абвгд")
            + ["🙂", "🍕", "👍🏽", "🇯🇵", "\u200d", "▁", "𝔘", "𠀀", "\x00", "\x1b", "<s>", "</s>", "<unk>"]
            + list(extra_pool))
    out = []
    for index in range(count):
        length = rng.randint(1, 40)
        out.append((category, "".join(rng.choice(pool) for _ in range(length))))
    return out


def added_pieces(proto):
    """The control pieces besides <s>, </s> and the user-defined pieces, in id order."""
    reserved = {proto.trainer_spec.bos_piece, proto.trainer_spec.eos_piece}
    control = [p.piece for p in proto.pieces if p.type == CONTROL and p.piece not in reserved]
    user = [p.piece for p in proto.pieces if p.type == USER_DEFINED]
    return control, user


def model_cases(proto):
    """(category, text) pairs for the model's own control and user-defined pieces: none for v1;
    for v3 its [INST] chat, tool-call and fill-in-the-middle layouts, near misses, and each piece."""
    control, user = added_pieces(proto)
    cases = []

    def add(category, *texts):
        cases.extend((category, t) for t in texts)

    named = [c for c in control if not c.startswith("[control_")]
    numbered = [c for c in control if c.startswith("[control_")]
    add("control", *named)
    add("control", *numbered[:2], *numbered[-2:])
    if "[INST]" in control and "[/INST]" in control:
        add("control",
            "<s>[INST] What is the capital of France?[/INST] Paris.</s>[INST] And of Italy?[/INST]",
            "<s>[INST] You are terse.\n\nSay hi.[/INST] Hi.</s>", "[INST]Hi[/INST]", "[INST] Hi[/INST] Hello",
            "[INST]\nline\n[/INST]\n", " [INST] ", "x[INST]y[/INST]z", "[INST][/INST]", "[INST][INST]",
            "[/INST]</s>", "</s>[INST]", "[INST] 你好 [/INST] 🙂", "[INST]  two spaces  [/INST]",
            "[INST", "INST]", "[/INST", "[ INST ]", "[inst]", "[[INST]]", "[INST]]", "[INST] [INST", "[/[INST]]",
            "The [INST] tag opens a turn; [/INST] closes it.", "`[INST]` in code", "\"[INST]\"")
    if "[TOOL_CALLS]" in control and "[AVAILABLE_TOOLS]" in control:
        add("control",
            "<s>[AVAILABLE_TOOLS] [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
            "\"description\": \"Current weather\", \"parameters\": {\"type\": \"object\", \"properties\": "
            "{\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}][/AVAILABLE_TOOLS]"
            "[INST] What is the weather in Paris?[/INST]",
            "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"a1b2C3d4E\"}]</s>",
            "[TOOL_RESULTS] {\"content\": {\"temperature\": 22}, \"call_id\": \"a1b2C3d4E\"}[/TOOL_RESULTS] It is 22 °C.</s>",
            "[AVAILABLE_TOOLS][][/AVAILABLE_TOOLS]", "[TOOL_CALLS][TOOL_CALLS]", "[TOOL_CALLS", "[TOOL_RESULTS]]")
    if "[PREFIX]" in control and "[SUFFIX]" in control:
        add("control", "<s>[SUFFIX]    return a + b\n[PREFIX]def add(a, b):\n", "[PREFIX][MIDDLE][SUFFIX]",
            "[IMG][IMG][IMG]", "a[IMG]b")
    if numbered:
        last = int(numbered[-1][len("[control_"):-1])
        add("control", "[control_%d]" % (last + 1), "[control_0]", "[control_]", "[control_12] [control_13]")
    if user:
        add("user-defined", *user[-3:], *user[:1], "%s x" % user[-2], "a%sb" % user[0], " %s" % user[-1],
            "%s%s" % (user[-2], user[-11]), "[INST] %s [/INST]" % user[-1], "[REFERENCE_DOC_]", "[REFERENCE_DOC_20]",
            "see %s and %s." % (user[-1], user[-2]))
    return cases


def all_cases(proto):
    base = hand_written() + model_cases(proto)
    cases = list(base)
    # Variants that move a string's start and end: a leading space, a trailing newline, a pair.
    for index, (category, text) in enumerate(base):
        if index % 3 == 0:
            cases.append((category + "+space", " " + text))
        if index % 5 == 1:
            cases.append((category + "+newline", text + "\n"))
        if index % 7 == 2 and index + 1 < len(base):
            cases.append((category + "+pair", text + " " + base[index + 1][1]))
    cases += generated(80)
    control, user = added_pieces(proto)
    if control or user:
        named = [c for c in control if not c.startswith("[control_")]
        cases += generated(40, seed=23, extra_pool=(named + control[-1:]) * 4 + user[-2:], category="random+control")
    seen, unique = set(), []
    for category, text in cases:
        if text not in seen:
            seen.add(text)
            unique.append((category, text))
    return unique


def write_gguf(path, proto, add_bos, add_eos, name):
    writer = gguf.GGUFWriter(path, arch="llama")
    writer.add_name("%s (tokenizer only)" % name)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list([p.piece.encode("utf-8") for p in proto.pieces])
    writer.add_token_scores([float(p.score) for p in proto.pieces])
    writer.add_token_types([int(p.type) for p in proto.pieces])
    writer.add_bos_token_id(proto.trainer_spec.bos_id)
    writer.add_eos_token_id(proto.trainer_spec.eos_id)
    writer.add_unk_token_id(proto.trainer_spec.unk_id)
    writer.add_add_bos_token(add_bos)
    writer.add_add_eos_token(add_eos)
    writer.add_add_space_prefix(proto.normalizer_spec.add_dummy_prefix)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def model_name(path):
    """mistral-tokenizer-v1 for tokenizer.model.v1, mistral-tokenizer-v3 for ....model.v3."""
    return "mistral-tokenizer-" + os.path.basename(path).rsplit(".", 1)[-1]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True,
                        help="Mistral SentencePiece model (tokenizer.model.v1, mistral_instruct_tokenizer_240323.model.v3)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    proto = model_pb2.ModelProto()
    with open(args.model, "rb") as f:
        proto.ParseFromString(f.read())
    sp = spm.SentencePieceProcessor(model_file=args.model)

    # (a) tokenizer.json through transformers' LlamaConverter, legacy (Llama 2 / Mistral 7B) shape.
    with tempfile.TemporaryDirectory() as scratch:
        fast = LlamaTokenizerFast(vocab_file=args.model, legacy=True, add_prefix_space=True, from_slow=True)
        fast.save_pretrained(scratch)
        shutil.copy(os.path.join(scratch, "tokenizer_config.json"), os.path.join(args.out, "tokenizer_config.json"))
    legacy = fast.backend_tokenizer
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(legacy.to_str(pretty=False))
    legacy = Tokenizer.from_file(os.path.join(args.out, "tokenizer.json"))
    # The non-legacy shape: no normalizer, Metaspace(prepend_scheme="first", split=False).
    first_json = json.loads(legacy.to_str())
    first_json["normalizer"] = None
    first_json["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}
    first = Tokenizer.from_str(json.dumps(first_json))
    # Special tokens matched as plain text: what sentencepiece itself does with "<s>" in text.
    as_text = Tokenizer.from_file(os.path.join(args.out, "tokenizer.json"))
    as_text.encode_special_tokens = True

    # (b) tokenizer-only GGUF.
    gguf_path = os.path.join(args.out, "tokenizer.gguf")
    write_gguf(gguf_path, proto, add_bos=True, add_eos=False, name=model_name(args.model))

    # Every added token read as text, user-defined ones too (only for a model that has them):
    # tokenizers with all added tokens special, and sentencepiece with user-defined pieces made
    # control pieces (which it never matches in text).
    _, user_pieces = added_pieces(proto)
    all_as_text = spm_all_as_text = None
    if user_pieces:
        all_json = json.loads(legacy.to_str())
        for token in all_json["added_tokens"]:
            token["special"] = True
        all_as_text = Tokenizer.from_str(json.dumps(all_json))
        all_as_text.encode_special_tokens = True
        control_proto = model_pb2.ModelProto()
        control_proto.CopyFrom(proto)
        for p in control_proto.pieces:
            if p.type == USER_DEFINED:
                p.type = CONTROL
        del control_proto.trainer_spec.user_defined_symbols[:]
        spm_all_as_text = spm.SentencePieceProcessor(model_proto=control_proto.SerializeToString())

    # (c) cases.
    cases, disagreements = [], []
    for index, (category, text) in enumerate(all_cases(proto)):
        spm_ids = sp.encode(text)
        ids = legacy.encode(text, add_special_tokens=False).ids
        text_ids = as_text.encode(text, add_special_tokens=False).ids
        first_ids = first.encode(text, add_special_tokens=False).ids
        entry = {
            "index": index, "category": category, "text": text,
            "ids": ids,
            "ids_prepend_first": first_ids,
            "ids_specials_as_text": text_ids,
            "spm_ids": spm_ids,
            "decoded": legacy.decode(ids, skip_special_tokens=False),
            "decoded_skip_special_tokens": legacy.decode(ids, skip_special_tokens=True),
            "spm_decoded": sp.decode(spm_ids),
        }
        if all_as_text is not None:
            entry["ids_added_tokens_as_text"] = all_as_text.encode(text, add_special_tokens=False).ids
            if spm_all_as_text.encode(text) != entry["ids_added_tokens_as_text"]:
                disagreements.append({"index": index, "text": text,
                                      "what": "sentencepiece ids != tokenizers ids (all added tokens as text)"})
        cases.append(entry)
        if spm_ids != text_ids:
            disagreements.append({"index": index, "text": text, "what": "sentencepiece ids != tokenizers ids (specials as text)"})
        if entry["spm_decoded"] != entry["decoded_skip_special_tokens"] and spm_ids == ids:
            disagreements.append({"index": index, "text": text, "what": "sentencepiece decode != tokenizers decode"})

    # Decoding of hand-made id sequences: byte pieces, invalid UTF-8, special tokens.
    piece = {p.piece: i for i, p in enumerate(proto.pieces)}
    byte = lambda b: piece["<0x%02X>" % b]
    hello = piece["▁Hello"]
    sequences = {
        "valid 3-byte char": [byte(0xE4), byte(0xB8), byte(0xAD)],
        "truncated 3-byte char": [byte(0xE4), byte(0xB8)],
        "char then stray byte": [byte(0xE4), byte(0xB8), byte(0xAD), byte(0xFF)],
        "lone continuation byte": [byte(0x80)],
        "bytes around a piece": [byte(0xE4), hello, byte(0xB8), byte(0xAD)],
        "ascii byte pieces": [byte(0x41), byte(0x0A), byte(0x20)],
        "leading piece space": [hello, piece["▁world"]],
        "bos first": [1, hello, 2],
        "unk": [0, hello],
        "space pieces": [piece["▁"], piece["▁▁"], hello],
        "4-byte emoji split": [byte(0xF0), byte(0x9F), byte(0x99), byte(0x82), hello],
        "overlong": [byte(0xC0), byte(0xAF)],
        "surrogate": [byte(0xED), byte(0xA0), byte(0x80)],
    }
    control, user = added_pieces(proto)
    if "[INST]" in piece and "[/INST]" in piece:
        sequences["instruction turn"] = [1, piece["[INST]"], hello, piece["▁world"], piece["[/INST]"], hello, 2]
        sequences["control first"] = [piece["[INST]"], piece["▁"], hello, piece["[/INST]"]]
    if "[TOOL_CALLS]" in piece:
        sequences["tool calls then bytes"] = [piece["[TOOL_CALLS]"], byte(0xE4), byte(0xB8), byte(0xAD), 2]
    if control:
        sequences["numbered control"] = [piece[control[-1]], hello, piece[control[-2]]]
    if user:
        sequences["user-defined"] = [piece[user[-1]], hello, piece[user[0]], byte(0x41)]
        sequences["user-defined first then control"] = [piece[user[-2]], piece["[INST]"] if "[INST]" in piece else 2]
    decode_cases = []
    for name, ids in sequences.items():
        decode_cases.append({
            "name": name, "ids": ids,
            "decoded": legacy.decode(ids, skip_special_tokens=False),
            "decoded_skip_special_tokens": legacy.decode(ids, skip_special_tokens=True),
            "spm_decoded": sp.decode(ids),
        })

    versions = {
        "python": sys.version.split()[0], "sentencepiece": spm.__version__, "tokenizers": tokenizers.__version__,
        "transformers": transformers.__version__, "gguf": importlib.metadata.version("gguf"),
        "protobuf": importlib.metadata.version("protobuf"), "numpy": np.__version__,
    }
    model_info = {
        "source_model": os.path.basename(args.model), "source_model_sha256": sha256(args.model),
        "vocab_size": sp.vocab_size(), "bos_id": sp.bos_id(), "eos_id": sp.eos_id(), "unk_id": sp.unk_id(),
        "add_dummy_prefix": proto.normalizer_spec.add_dummy_prefix,
        "remove_extra_whitespaces": proto.normalizer_spec.remove_extra_whitespaces,
        "normalizer": proto.normalizer_spec.name, "byte_fallback": proto.trainer_spec.byte_fallback,
        "model_type": proto.trainer_spec.model_type,
        "tokenizer_json_sha256": sha256(os.path.join(args.out, "tokenizer.json")),
        "tokenizer_gguf_sha256": sha256(gguf_path),
    }
    with open(os.path.join(args.out, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"versions": versions, "model": model_info, "cases": cases, "decode_cases": decode_cases,
                   "disagreements": disagreements}, f, ensure_ascii=True, indent=1)
        f.write("\n")

    same = sum(1 for c in cases if c["spm_ids"] == c["ids_specials_as_text"])
    print(f"{len(cases)} strings; sentencepiece == tokenizers (specials as text) for {same}; "
          f"{len(disagreements)} disagreements; {len(decode_cases)} decode cases")
    if all_as_text is not None:
        split = sum(1 for c in cases if c["ids_added_tokens_as_text"] != c["ids_specials_as_text"])
        print(f"  user-defined pieces split off in {split} strings (ids_added_tokens_as_text differs)")
    for d in disagreements:
        print("  disagreement:", d["index"], repr(d["text"]), d["what"])


if __name__ == "__main__":
    main()
