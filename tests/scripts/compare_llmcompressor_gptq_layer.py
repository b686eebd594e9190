"""llm-compressor's GPTQ on the workload of `llmq_gptq_layer_bench --shared-only`: one
Llama-3.2-1B-shaped decoder layer (hidden 2048, MLP 8192, 32 heads, 8 KV heads, float32,
random weights, a 1024-token vocabulary), 16 x 2048 random calibration tokens, 4-bit
asymmetric groups of 128, on the CPU. Prints oneshot's wall time, to set beside llmq's on
the same machine the same day.

  python tests/scripts/compare_llmcompressor_gptq_layer.py [--samples 16] [--seq 2048] [--threads 2]

Needs torch and llmcompressor (a venv outside the repo); llmq never imports this.
llm-compressor writes its logs to sparse_logs/ in the working directory (ignored by git).
"""
import argparse
import tempfile
import time

import torch
from datasets import Dataset
from tokenizers import Tokenizer, models
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from llmcompressor import oneshot
from llmcompressor.modifiers.quantization import GPTQModifier


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--seq", type=int, default=2048)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=1024, hidden_size=2048, intermediate_size=8192,
                         num_hidden_layers=1, num_attention_heads=32, num_key_value_heads=8,
                         head_dim=64, max_position_embeddings=131072, rope_theta=500000.0,
                         tie_word_embeddings=True, torch_dtype=torch.float32)
    model = LlamaForCausalLM(config).eval()
    # oneshot (llm-compressor 0.14 with transformers 5.17) reads the model's config again
    # from model.config.name_or_path: give it a directory that holds the config.
    config_dir = tempfile.mkdtemp(prefix="llmq-lc-config-")
    config.save_pretrained(config_dir)
    model.config._name_or_path = config_dir
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(config.vocab_size, (a.samples, a.seq), generator=g)
    ds = Dataset.from_dict({"input_ids": ids.tolist(), "attention_mask": torch.ones_like(ids).tolist()})
    recipe = GPTQModifier(targets="Linear", scheme="W4A16_ASYM", ignore=["lm_head"])
    start = time.perf_counter()
    # The data is tokenized already; oneshot still wants a processor (any tokenizer will do).
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")),
        unk_token="<unk>", pad_token="<unk>")
    oneshot(model=model, dataset=ds, recipe=recipe, processor=tokenizer,
            num_calibration_samples=a.samples, max_seq_length=a.seq)
    seconds = time.perf_counter() - start
    print(f"llm-compressor GPTQ W4A16_ASYM g128, one 1B-shaped layer, {a.samples} x {a.seq} tokens, "
          f"{a.threads} threads: {seconds:.1f} s")


if __name__ == "__main__":
    main()
