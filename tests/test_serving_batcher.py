"""The batcher on a real fitted model: concurrent clients are scored together in batches of
about as many as there are clients (it waits a moment under load for the ones it just
answered), each gets its own rows back, and a lone client sending one request after another
is scored alone and never waits for company."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines.serving.batcher import Batcher
from pipelines.serving.bundle import dump_model, make_manifest
from pipelines.serving.records import check_records, frame_of
from pipelines.serving.schema import infer_schema
from pipelines.serving.scoring import score
from pipelines.sweeps.families import get_family
from pipelines.sweeps.training import fit_final


@pytest.fixture(scope="module")
def scorer() -> tuple[Any, list[Any]]:
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.choice(["x", "y", "z"], 300)})
    y = pd.Series(np.where(X["a"] > 0, "yes", "no"))
    model = fit_final(X, y, task="classification", family=get_family("lightgbm"), params={}, seed=0)
    manifest = make_manifest(model, dump_model(model), "classification", infer_schema(X))
    schema = manifest.schema
    rows = [check_records(schema, r) for r in X.head(40).to_dict(orient="records")]
    alone = [score(model, manifest, frame_of(schema, [r])).probability_list() for r in rows]

    def make() -> Batcher:
        return Batcher(lambda parts: score(model, manifest, frame_of(schema, parts)))

    return make, list(zip(rows, alone, strict=True))


def test_concurrent_clients_are_scored_in_batches_of_about_all_of_them(
    scorer: tuple[Any, list[Any]],
) -> None:
    make, rows = scorer
    batcher = make()
    wrong: list[int] = []

    async def client(offset: int) -> None:
        for i in range(30):
            position = (offset + i) % len(rows)
            checked, alone = rows[position]
            answer = await batcher.score(checked)
            if answer.probability_list() != alone:
                wrong.append(position)
            await asyncio.sleep(0)  # the client sends its next request right away

    async def main() -> None:
        await asyncio.gather(*(client(5 * n) for n in range(8)))

    asyncio.run(main())
    assert wrong == []  # each client got its own row's answer
    assert batcher.frames == 240
    assert batcher.frames / batcher.batches >= 6  # not two alternating halves of about 4


def test_a_lone_client_is_scored_alone_without_waiting(scorer: tuple[Any, list[Any]]) -> None:
    make, rows = scorer
    batcher = make()

    async def main() -> None:
        for checked, alone in rows[:20]:
            answer = await batcher.score(checked)
            assert answer.probability_list() == alone

    asyncio.run(main())
    assert batcher.batches == batcher.frames == 20
    assert batcher._company <= 1  # one client seen: the batcher never waits for company
