"""Turn the Value Portrait authors' published raw outputs into ``score_answers``' ANSWERS.jsonl.

The release holds ``lm_evaluation/outputs/final/<provider>/<model>_<variant>_results.json`` with
variant ``v1``, ``v2``, ``v3`` (the three templates, phrases in the paper's order) and
``v1_reversed`` … ``v3_reversed``; each record has ``portrait_id``, ``option_id`` and
``raw_response``. The item id is ``<portrait_id>-<option_id>``; the prompt index follows
:mod:`benchmark.prompts`: v1, v2, v3 → 0, 1, 2 and v1_reversed, v2_reversed, v3_reversed → 3, 4, 5.

    python -m benchmark.convert_published lm_evaluation/outputs/final/openai --model gpt-4o --out gpt-4o.jsonl
    python manage.py score_answers --answers gpt-4o.jsonl --itembank NAME --model gpt-4o --out gpt-4o.json

A file may hold a JSON list of records, an object with one list of records, or JSON lines.
"""

import argparse
import json
import sys
from pathlib import Path

VARIANTS = {"v1": 0, "v2": 1, "v3": 2, "v1_reversed": 3, "v2_reversed": 4, "v3_reversed": 5}
FIELDS = ("portrait_id", "option_id", "raw_response")


class PublishedOutputError(ValueError):
    """A published output file that cannot be read; the message names the file and record."""


def _records(path: Path) -> list:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise PublishedOutputError(f"{path}: neither JSON nor JSON lines ({exc.msg})") from None
    if isinstance(data, dict):
        lists = [value for value in data.values() if isinstance(value, list)]
        if len(lists) != 1:
            raise PublishedOutputError(f"{path}: expected a list of records or an object holding one list")
        data = lists[0]
    if not isinstance(data, list):
        raise PublishedOutputError(f"{path}: expected a list of records")
    return data


def convert(directory: str | Path, model: str) -> list[dict]:
    """ANSWERS.jsonl records of ``model`` from its six files in ``directory`` (missing files are an error)."""
    directory = Path(directory)
    answers = []
    for variant, index in VARIANTS.items():
        path = directory / f"{model}_{variant}_results.json"
        if not path.is_file():
            raise PublishedOutputError(f"{path}: not found (expected one file per variant: {', '.join(VARIANTS)})")
        for number, record in enumerate(_records(path), start=1):
            missing = [field for field in FIELDS if not isinstance(record, dict) or field not in record]
            if missing:
                raise PublishedOutputError(f"{path} record {number}: missing {', '.join(missing)}")
            response = record["raw_response"]
            answers.append({"item_id": f"{record['portrait_id']}-{record['option_id']}", "prompt_index": index,
                            "text": "" if response is None else str(response)})
    return answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.convert_published", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", help="lm_evaluation/outputs/final/<provider>")
    parser.add_argument("--model", required=True, help="the model name in the file names")
    parser.add_argument("--out", required=True, help="ANSWERS.jsonl to write ('-' for stdout)")
    args = parser.parse_args(argv)
    try:
        answers = convert(args.directory, args.model)
    except PublishedOutputError as exc:
        parser.exit(2, f"error: {exc}\n")
    lines = "".join(json.dumps(answer, ensure_ascii=False) + "\n" for answer in answers)
    if args.out == "-":
        sys.stdout.write(lines)
    else:
        Path(args.out).write_text(lines, encoding="utf-8")
        print(f"wrote {len(answers)} answers to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
