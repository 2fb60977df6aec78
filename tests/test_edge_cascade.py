"""The cascade on a tier with an answer check: real nodes, real models, hand-set checks whose verdicts are known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import CLOUD_TOKEN, EdgeFactory, chat, route_info
from edgesplit.config import load_settings
from edgesplit.edge.cascade import AnswerCheckJudge, MeanLogprobJudge, cascade_judge
from edgesplit.errors import ConfigError
from edgesplit.routing.answer_check import AnswerCheck, save_check
from edgesplit.routing.answer_signals import signal_names
from edgesplit.server import NodeServer

ASKS_NUMBER = "How many wheels does a bicycle have? End your reply with the number."
ASKS_NOTHING = "Say hello to the operator in one short sentence."


def _check(tmp_path: Path, groups: tuple[str, ...] = ("tasks",), weight: str = "asks_number") -> Path:
    """A check that keeps exactly the answers whose prompt asked for a number (P 0.98 vs 0.02)."""
    names = signal_names(groups)
    coef = np.asarray([8.0 if name == weight else 0.0 for name in names])
    check = AnswerCheck("smollm2-135m-instruct", groups, np.zeros(len(names)), np.ones(len(names)), coef, -4.0, 0.5)
    path = tmp_path / "check.json"
    save_check(check, path)
    return path


def test_the_check_keeps_or_escalates_by_what_the_prompt_asked(
    make_edge: EdgeFactory, cloud: NodeServer, tmp_path: Path
) -> None:
    edge = make_edge(upstream=cloud.url, upstream_token=CLOUD_TOKEN, answer_check=str(_check(tmp_path)))
    kept = route_info(chat(edge, ASKS_NUMBER, max_tokens=24))
    assert kept["route"] == "edge" and kept["rule"] == "cascade-kept"
    assert kept["confidence"] == pytest.approx(0.982, abs=1e-3) and kept["threshold"] == 0.5
    assert "answer check" in kept["reason"]
    escalated = route_info(chat(edge, ASKS_NOTHING, max_tokens=24))
    assert escalated["route"] == "cloud" and escalated["rule"] == "cascade-escalated"
    assert escalated["confidence"] == pytest.approx(0.018, abs=1e-3)


def test_a_streamed_short_answer_is_held_and_checked_whole(
    make_edge: EdgeFactory, cloud: NodeServer, tmp_path: Path
) -> None:
    edge = make_edge(upstream=cloud.url, upstream_token=CLOUD_TOKEN, answer_check=str(_check(tmp_path)))
    chunks = list(chat(edge, ASKS_NUMBER, stream=True, max_tokens=24))
    meta = chunks[0].model_extra["edgesplit"]
    assert meta["route"] == "edge" and "(whole answer)" in meta["reason"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    plain = chat(edge, ASKS_NUMBER, max_tokens=24, model="edgesplit/edge").choices[0].message.content
    assert text == plain  # the held answer is sent in full, as generated
    up = list(chat(edge, ASKS_NOTHING, stream=True, max_tokens=24))
    assert up[0].model_extra["edgesplit"]["route"] == "cloud"
    assert sum(1 for c in up if c.choices and c.choices[0].delta.content) > 1  # the upstream's answer streams


def test_prefix_mode_checks_the_first_tokens_only(make_edge: EdgeFactory, cloud: NodeServer, tmp_path: Path) -> None:
    edge = make_edge(upstream=cloud.url, upstream_token=CLOUD_TOKEN, answer_check=str(_check(tmp_path)),
                     cascade_stream="prefix", cascade_probe_tokens=2)  # fmt: skip
    chunks = list(chat(edge, ASKS_NUMBER, stream=True, max_tokens=24))
    assert "(first 2 tokens)" in chunks[0].model_extra["edgesplit"]["reason"]


def test_which_judge_a_node_uses(tmp_path: Path) -> None:
    assert isinstance(cascade_judge(load_settings(answer_check_packaged=False)), MeanLogprobJudge)
    judge = cascade_judge(load_settings(answer_check=str(_check(tmp_path)), cascade_hold_tokens=64))
    assert isinstance(judge, AnswerCheckJudge) and judge.probe_tokens == 64
    needs_upstream = _check(tmp_path, ("tasks", "upstream"), "up_mean")
    with pytest.raises(ConfigError, match="upstream"):
        cascade_judge(load_settings(answer_check=str(needs_upstream)))
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="unreadable"):
        cascade_judge(load_settings(answer_check=str(tmp_path / "broken.json")))


@pytest.mark.parametrize(
    ("role", "model"), [("edge", "smollm2-135m-instruct"), ("local", "qwen2.5-coder-0.5b-instruct")]
)
def test_a_plain_node_uses_the_check_packaged_for_its_model(role: str, model: str) -> None:
    judge = cascade_judge(load_settings(role=role, api_token="t" * 24))
    assert isinstance(judge, AnswerCheckJudge)
    assert judge.check.tier_model == model and judge.probe_tokens == 256
    assert 0 < judge.threshold < 1 and judge.check.calibration is not None
    assert not (judge.check.needs_sample or judge.check.needs_upstream)  # a tier reads its own signals only


def test_a_node_may_refuse_to_run_model_written_code(tmp_path: Path) -> None:
    import asyncio

    from edgesplit.generation import Prompt, TokenEvent

    path = _check(tmp_path, ("tasks",), "code_ok")
    prompt = Prompt(messages=(("user", "Complete this python function.\n>>> double(2)\n4"),))
    wrong = [TokenEvent("```python\ndef double(x):\n    return x + 1\n```", -0.1)]
    runs = cascade_judge(load_settings(answer_check=str(path)))
    parses_only = cascade_judge(load_settings(answer_check=str(path), cascade_run_code=False))
    assert asyncio.run(runs.judge(prompt, 10, wrong)).escalate  # its own example fails
    assert not asyncio.run(parses_only.judge(prompt, 10, wrong)).escalate  # it parses, nothing ran
