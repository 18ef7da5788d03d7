#!/usr/bin/env python3
"""Gives a tiny family model directory a stand-in byte-level BPE tokenizer (the fixtures hold
none: their checks feed ids) and writes the fixture's ids as one JSONL row.

usage: standin_tokenizer.py MODEL_DIR REFERENCE_JSON IDS_JSONL [--no-special]
The vocabulary is the model's vocab_size tokens with one merge (a BPE tokenizer needs some);
ids 0-2 are special tokens unless --no-special (llama.cpp's phi3 vocabulary loader fails on
them). No third-party packages."""
import json
import sys

model, reference, ids_out = sys.argv[1:4]
special = "--no-special" not in sys.argv[4:]
size = json.load(open(f"{model}/config.json"))["vocab_size"]
vocab = {(f"<t{i}>" if i < 3 else chr(0x100 + i)): i for i in range(size - 1)}
vocab[chr(0x103) + chr(0x104)] = size - 1
tokenizer = {
    "version": "1.0", "truncation": None, "padding": None, "normalizer": None, "post_processor": None,
    "added_tokens": [{"id": i, "content": f"<t{i}>", "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True} for i in range(3)] if special else [],
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
              "vocab": vocab, "merges": [[chr(0x103), chr(0x104)]]},
}
json.dump(tokenizer, open(f"{model}/tokenizer.json", "w"))
json.dump({"tokenizer_class": "PreTrainedTokenizerFast"}, open(f"{model}/tokenizer_config.json", "w"))
json.dump({"input_ids": json.load(open(reference))["ids"]}, open(ids_out, "w"))
