#!/usr/bin/env python3
"""Compares llmq's multiple-choice scoring with lm-evaluation-harness, example by example.

Runs lm-eval (HF backend, float32, CPU, batch size 1, --log_samples) on a Hugging Face model
directory for BoolQ (lm-eval's `boolq` prompt, read from the bundled dev set as a local
JSON dataset, so no hub access is needed) or for an `mc` JSONL, runs llmq's
`llmq_eval_dump` on the same model and examples, and compares per-example log-likelihoods
and predictions. Goal: identical choices, log-likelihoods within --tolerance (1e-4).

BOS: lm-eval's HF backend takes `add_bos_token` from its model_args. Older lm-eval (before
0.4.9 or so) defaulted it to False for causal LMs; 0.4.13 defaults it to None, which means
"the tokenizer's default" (adds BOS for Llama-style tokenizers). --bos both (default) runs
the two settings: lm-eval add_bos_token=False vs llmq bos=false, and lm-eval's default vs
llmq bos=true.

Usage (from the repository root, after `ninja -C build llmq_eval_dump`):
  /work/venv/bin/pip install lm-eval        # once
  /work/venv/bin/python tests/scripts/compare_lm_eval.py \\
      --model assets/models/stories260K-hf --task boolq --limit 50
  /work/venv/bin/python tests/scripts/compare_lm_eval.py --task mc \\
      --dataset examples/data/tiny_mc.jsonl
Exits 1 if any prediction differs or any log-likelihood differs by more than the tolerance.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

BOOLQ_YAML = """task: llmq_boolq_local
dataset_path: json
dataset_kwargs:
  data_files:
    validation: {data}
output_type: multiple_choice
validation_split: validation
doc_to_text: "{{{{passage}}}}\\nQuestion: {{{{question}}}}?\\nAnswer:"
doc_to_target: label
doc_to_choice: ["no", "yes"]
metric_list:
  - metric: acc
"""

MC_YAML = """task: llmq_mc_local
dataset_path: json
dataset_kwargs:
  data_files:
    validation: {data}
output_type: multiple_choice
validation_split: validation
doc_to_text: context
doc_to_target: answer
doc_to_choice: choices
metric_list:
  - metric: acc
  - metric: acc_norm
"""


def write_local_task(task, dataset, workdir):
    """Writes lm-eval's task YAML and its data (labels as ints) into workdir."""
    data = os.path.join(workdir, "data.jsonl")
    with open(dataset) as src, open(data, "w") as dst:
        for line in src:
            if not line.strip():
                continue
            doc = json.loads(line)
            if task == "boolq":
                label = doc["label"]
                doc["label"] = int(label in ("true", True, 1))
            dst.write(json.dumps(doc) + "\n")
    with open(os.path.join(workdir, "task.yaml"), "w") as f:
        f.write((BOOLQ_YAML if task == "boolq" else MC_YAML).format(data=data))
    return "llmq_boolq_local" if task == "boolq" else "llmq_mc_local"


def run_lm_eval(model, task_name, workdir, limit, add_bos):
    """Per-document (log-likelihoods, is_greedy) from lm-eval; add_bos None = its default."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    model_args = f"pretrained={os.path.abspath(model)},dtype=float32"
    if add_bos is not None:
        model_args += f",add_bos_token={add_bos}"
    results = lm_eval.simple_evaluate(
        model="hf", model_args=model_args, tasks=[task_name], limit=limit or None,
        batch_size=1, device="cpu", log_samples=True,
        task_manager=TaskManager(include_path=workdir))
    out = {}
    for sample in results["samples"][task_name]:
        pairs = [r[0] for r in sample["resps"]]
        out[sample["doc_id"]] = {
            "logprobs": [float(ll) for ll, _ in pairs],
            "is_greedy": [bool(g) for _, g in pairs],
            "answer": int(sample["target"]),
        }
    return out, results["results"][task_name], lm_eval.__version__


def run_llmq(binary, model, task, dataset, limit, bos):
    cmd = [binary, f"--model={model}", f"--task={task}", f"--dataset={dataset}",
           f"--limit={limit}", "--subsample=first", f"--bos={'true' if bos else 'false'}",
           "--batch_size=8"]
    lines = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()
    docs = {}
    summary = None
    for line in lines:
        record = json.loads(line)
        if "summary" in record:
            summary = record["summary"]
        else:
            docs[record["doc"]] = record
    return docs, summary


def compare(label, ours, theirs, tolerance):
    worst, worst_doc, flips, greedy_flips = 0.0, None, [], 0
    for doc, ref in theirs.items():
        mine = ours[doc]
        for a, b in zip(mine["logprobs"], ref["logprobs"]):
            if abs(a - b) > worst:
                worst, worst_doc = abs(a - b), doc
        pred_ours = max(range(len(mine["logprobs"])), key=lambda i: (mine["logprobs"][i], -i))
        pred_theirs = max(range(len(ref["logprobs"])), key=lambda i: (ref["logprobs"][i], -i))
        if pred_ours != pred_theirs:
            flips.append(doc)
        greedy_flips += mine["is_greedy"] != ref["is_greedy"]
    acc_ours = sum(ours[d]["predicted"] == ours[d]["answer"] for d in theirs) / len(theirs)
    acc_theirs = sum(
        max(range(len(r["logprobs"])), key=lambda i: (r["logprobs"][i], -i)) == r["answer"]
        for r in theirs.values()) / len(theirs)
    truncated = sum(ours[d]["truncated"] > 0 for d in theirs)
    ok = not flips and worst <= tolerance
    print(f"[{label}] docs={len(theirs)} truncated={truncated} "
          f"max|dLL|={worst:.3g} (doc {worst_doc}) prediction_mismatches={len(flips)} {flips[:10]} "
          f"is_greedy_mismatches={greedy_flips} acc_llmq={acc_ours:.4f} acc_lm_eval={acc_theirs:.4f} "
          f"-> {'OK' if ok else 'MISMATCH'}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="assets/models/stories260K-hf")
    parser.add_argument("--task", choices=["boolq", "mc"], default="boolq")
    parser.add_argument("--dataset", default=None,
                        help="default: assets/data/boolq/val.jsonl (boolq), examples/data/tiny_mc.jsonl (mc)")
    parser.add_argument("--limit", type=int, default=50, help="first N examples (lm-eval --limit); 0 = all")
    parser.add_argument("--bos", choices=["false", "default", "both"], default="both")
    parser.add_argument("--llmq-bin", default="build/eval/llmq_eval_dump")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    dataset = args.dataset or ("assets/data/boolq/val.jsonl" if args.task == "boolq" else "examples/data/tiny_mc.jsonl")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    settings = []
    if args.bos in ("false", "both"):
        settings.append(("lm-eval add_bos_token=False vs llmq bos=false", False, False))
    if args.bos in ("default", "both"):
        settings.append(("lm-eval default add_bos_token vs llmq bos=true", None, True))
    all_ok = True
    with tempfile.TemporaryDirectory() as workdir:
        task_name = write_local_task(args.task, dataset, workdir)
        for label, lm_eval_bos, llmq_bos in settings:
            theirs, metrics, version = run_lm_eval(args.model, task_name, workdir, args.limit, lm_eval_bos)
            ours, summary = run_llmq(args.llmq_bin, args.model, args.task, dataset, args.limit, llmq_bos)
            print(f"lm-eval {version} metrics: {json.dumps({k: v for k, v in metrics.items() if 'stderr' not in k})}")
            print(f"llmq summary: {json.dumps(summary)}")
            all_ok &= compare(label, ours, theirs, args.tolerance)
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
