#!/usr/bin/env python3
"""Loads a Tessera adapter with PEFT and compares the loss to Tessera's.

usage: check_peft.py HF_MODEL_DIR ADAPTER_DIR IDS_JSON TESSERA_LOSS
HF_MODEL_DIR comes from `tessera export --format hf`; IDS_JSON is a JSON object with
"input_ids". Needs torch, transformers and peft (pip install torch transformers peft; the
default torch wheel is large). Exits 1 on missing/unexpected adapter keys or a loss that differs
by more than 2e-4."""
import json, sys, warnings

try:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
except ImportError:
    print("torch, transformers and peft are not installed: pip install torch transformers peft")
    sys.exit(0)

model_dir, adapter_dir, ids_path, tessera_loss = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = PeftModel.from_pretrained(base, adapter_dir)
key_warnings = [str(w.message) for w in caught if "key" in str(w.message).lower()]
ids = json.load(open(ids_path))["input_ids"]
with torch.no_grad():
    loss = model(torch.tensor([ids]), labels=torch.tensor([ids])).loss.item()
print(f"PEFT loaded {adapter_dir}: key warnings: {key_warnings or 'none'}; "
      f"loss {loss:.6f} vs Tessera {tessera_loss:.6f} (difference {abs(loss - tessera_loss):.1e})")
sys.exit(0 if not key_warnings and abs(loss - tessera_loss) <= 2e-4 else 1)
