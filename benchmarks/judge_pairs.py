"""Pairwise LLM-as-judge over two methods' answers, on the GraphRAG paper's criteria: comprehensiveness,
diversity and empowerment (and directness, the paper's control: the method that wins the others should
not also win it).

Reads the side-by-side file ``benchmarks/lazy_vs_global.py --pairs`` writes. Each pair is judged twice
per criterion, once in each order (judges favour a position); a win counts 1, a tie 0.5, and a method's
win rate is its mean over both orders and all questions. The judge prompt is ``prompts/judge_pairwise.txt``.
Needs an OpenAI-compatible server; replies are cached under ``--cache`` so a rerun is free.

    .venv/bin/python benchmarks/judge_pairs.py --pairs /tmp/lazy_pairs.jsonl --a "lazy 500" --b global \\
        --base-url http://localhost:8000/v1 --model my-model
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

from graphrag_lite.config.prompts import fill, load_prompt
from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import LLMError
from graphrag_lite.models.base import Message, UsageMeter
from graphrag_lite.models.factory import create_chat
from graphrag_lite.models.json_reply import parse_json_object

CRITERIA = {
    "comprehensiveness": "How much detail does the answer give to cover all aspects and details of the "
    "question?",
    "diversity": "How varied and rich is the answer in giving different perspectives and insights on the "
    "question?",
    "empowerment": "How well does the answer help the reader understand the topic and make informed "
    "judgements about it?",
    "directness": "How specifically and clearly does the answer address the question?",
}


async def judge(args: argparse.Namespace) -> dict[str, float]:
    settings = Settings.model_validate(
        {
            "root": args.cache.parent,
            "cache": {"dir": str(args.cache)},
            "llm": {"api_base": args.base_url, "api_key": args.api_key, "model": args.model},
        }
    )
    chat = create_chat(settings, UsageMeter())
    assert chat is not None
    template = load_prompt("judge_pairwise")
    rows = [json.loads(line) for line in args.pairs.read_text(encoding="utf-8").splitlines() if line.strip()]
    limit = asyncio.Semaphore(args.concurrency)

    async def one(question: str, first: str, second: str, criterion: str) -> int:
        system = fill(
            template,
            criterion=criterion,
            definition=CRITERIA[criterion],
            question=question,
            answer_1=first,
            answer_2=second,
        )
        messages: list[Message] = [{"role": "user", "content": system}]
        async with limit:
            try:
                reply = await chat.chat(messages, json_mode=True)
                return int(parse_json_object(reply.text).get("winner", 0))
            except (ValueError, TypeError, LLMError):
                return 0

    scores: dict[str, float] = {}
    for criterion in CRITERIA:
        jobs = []
        for row in rows:
            a, b = row["answers"][args.a], row["answers"][args.b]
            jobs += [one(row["question"], a, b, criterion), one(row["question"], b, a, criterion)]
        verdicts = await asyncio.gather(*jobs)
        points = 0.0
        for i, verdict in enumerate(verdicts):
            a_position = 1 if i % 2 == 0 else 2
            points += 1.0 if verdict == a_position else 0.5 if verdict == 0 else 0.0
        scores[criterion] = points / max(1, len(verdicts))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=Path, required=True)
    parser.add_argument("--a", required=True, help="method name in the file, e.g. 'lazy 500'")
    parser.add_argument("--b", required=True, help="method name in the file, e.g. global")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", "none"))
    parser.add_argument("--cache", type=Path, default=Path(".judge_cache").resolve())
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    scores = asyncio.run(judge(args))
    print(f"| criterion | {args.a} win rate vs {args.b} |\n|---|---|")
    for criterion, score in scores.items():
        print(f"| {criterion} | {score:.2f} |")


if __name__ == "__main__":
    main()
