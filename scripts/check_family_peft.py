#!/usr/bin/env python3
"""Holds a Tessera-trained adapter of a tiny family model to transformers + PEFT (fp32).

usage: check_family_peft.py MODEL_DIR ADAPTER_DIR MERGED_DIR IDS_JSON TESSERA_LOSS [TOLERANCE]
       check_family_peft.py tokenizer MODEL_DIR
MODEL_DIR is the fixture's base model (Tests/Fixtures/reference/<family>-tiny/model),
ADAPTER_DIR the adapter `tessera train` wrote, MERGED_DIR `tessera merge --format hf` of the
two, IDS_JSON a JSON object with "input_ids", TESSERA_LOSS Tessera's eval loss with the
adapter. Checks that PEFT loads the adapter with no missing or unexpected keys, that its loss
equals Tessera's within TOLERANCE (default 1e-4), and that transformers loads the merged model
with the same loss. Prints one line of JSON; exits 1 when a check fails, 2 when torch,
transformers or peft is missing (never a silent pass)."""
import json
import sys
import warnings

try:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
except ImportError as error:
    print(f"check_family_peft.py needs torch, transformers and peft: {error}", file=sys.stderr)
    sys.exit(2)

if sys.argv[1] == "tokenizer":
    # `check_family_peft.py tokenizer MODEL_DIR`: a byte-level BPE tokenizer of the model's
    # vocab_size tokens and one merge (the tiny fixtures have none; the checks feed ids).
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    directory = sys.argv[2]
    size = json.load(open(f"{directory}/config.json"))["vocab_size"]
    vocab = {(f"<t{i}>" if i < 3 else chr(0x100 + i)): i for i in range(size - 1)}
    vocab[chr(0x103) + chr(0x104)] = size - 1  # one merge: a BPE tokenizer needs some
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[(chr(0x103), chr(0x104))]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.save(f"{directory}/tokenizer.json")
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast"}, open(f"{directory}/tokenizer_config.json", "w"))
    sys.exit(0)

model_dir, adapter_dir, merged_dir, ids_path = sys.argv[1:5]
tessera_loss = float(sys.argv[5])
tolerance = float(sys.argv[6]) if len(sys.argv) > 6 else 1e-4
torch.set_num_threads(1)
ids = torch.tensor([json.load(open(ids_path))["input_ids"]])


def loss_of(model):
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids, labels=ids).loss.item()


base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
base_loss = loss_of(base)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    peft_model = PeftModel.from_pretrained(base, adapter_dir)
key_warnings = [str(w.message) for w in caught if "key" in str(w.message).lower()]
# PEFT reports the adapter's own keys it could not place (missing ones are the base's, expected).
result = peft_model.load_adapter(adapter_dir, adapter_name="check")
unexpected = list(result.unexpected_keys)
missing = [k for k in result.missing_keys if "lora_" in k and ".check." in k]
peft_model.set_adapter("default")
peft_loss = loss_of(peft_model)
merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32, attn_implementation="eager")
merged_loss = loss_of(merged)
record = {
    "model_type": base.config.model_type,
    "base_loss_transformers": base_loss,
    "adapter_loss_tessera": tessera_loss,
    "adapter_loss_peft": peft_loss,
    "adapter_difference": peft_loss - tessera_loss,
    "merged_loss_transformers": merged_loss,
    "merged_difference": merged_loss - tessera_loss,
    "unexpected_keys": unexpected,
    "missing_lora_keys": missing,
    "key_warnings": key_warnings,
}
print(json.dumps(record))
ok = (not unexpected and not missing and not key_warnings and abs(peft_loss - tessera_loss) <= tolerance
      and abs(merged_loss - tessera_loss) <= tolerance and abs(peft_loss - base_loss) > 10 * tolerance)
sys.exit(0 if ok else 1)
