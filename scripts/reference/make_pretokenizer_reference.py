#!/usr/bin/env python3
"""Writes Tests/Fixtures/reference/pretokenizers/gpt4o.json: how Hugging Face `tokenizers` cuts a
set of texts into words with the o200k / GPT-4o `Split` regex (Phi-4-mini's tokenizer.json,
llama.cpp's `gpt-4o` pre-tokenizer), which PreTokenizer.gpt4o (a hand-written scanner) must
reproduce word for word.

    /path/to/venv/bin/python scripts/reference/make_pretokenizer_reference.py \\
        --out Tests/Fixtures/reference/pretokenizers/gpt4o.json

Needs only the `tokenizers` package (no torch, no download).
"""
import argparse
import json

import tokenizers
from tokenizers import Regex
from tokenizers.pre_tokenizers import Split

GPT4O = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# Each branch and its edges: case runs (camelCase, ALLCAPS, CapsThenLower), contractions after a
# word (any case), marks (combining accents, alone and after capitals), modifier/other letters
# (Lm, Lo: both classes), titlecase, digits in threes, punctuation with trailing newlines and
# slashes, the whitespace rules, and non-Latin scripts.
TEXTS = [
    "Hello world", "helloWorld HTTPServer XMLHttpRequest", "I'LL don't you're WE'VE it's", "ALLCAPS words",
    "x  1", "  indented\n\n  code\r\n", "12345 abc 1234567", "a\u00a0b\u3000 c", "?!  (x)\n\n",
    "\u02b0ello \u0663\u00b2\u00bd", "tab\tthen \tx", " 'sx", "path/to/file.txt\n/usr/bin/\n\n",
    "e\u0301cole Cafe\u0301 \u0301alone A\u0301B", "\u01c5ungla \u01c4Z", "\u4f60\u597d\u4e16\u754c \u3053\u3093\u306b\u3061\u306f",
    "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440 \u0391\u0392\u0393\u03b4",
    "<|user|>Hi!<|end|>", "a...b,,c;;  ;d", "\n\n\n", "   ", "end  ", "x/\ny", "$100.00 is 3x", "don'T WON'T can'ts",
    "\u0627\u0644\u0633\u0644\u0627\u0645 \u0639\u0644\u064a\u0643\u0645", "emoji \U0001F600\U0001F600 ok", "MiXeD CaSe wOrDs",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    split = Split(Regex(GPT4O), behavior="isolated")
    cases = [{"text": t, "words": [w for w, _ in split.pre_tokenize_str(t)]} for t in TEXTS]
    record = {
        "generator": "scripts/reference/make_pretokenizer_reference.py",
        "tokenizers": tokenizers.__version__,
        "pattern": GPT4O,
        "note": "words: tokenizers.pre_tokenizers.Split(Regex(pattern), behavior='isolated').pre_tokenize_str(text)",
        "cases": cases,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
