"""The sweep block and `from: best`: every mistake is one located line, like every other field."""

from __future__ import annotations

import pytest

from runner.project import find_project
from runner.spec import check

HEAD = """\
version: 1
jobs:
  train:
    script: train.py
    params: {{C: 1.0, kernel: linear}}
    sweep:
      sampling_algorithm: {algorithm}
      search_space:
        {space}
      objective: {{primary_metric: accuracy, goal: maximize}}
      {more}
{tail}"""


def problems(tmp_path, space: str, *, algorithm: str = "random", more: str = "limits: {max_total_trials: 5}",
             tail: str = "") -> list[str]:
    (tmp_path / "train.py").write_text("")
    (tmp_path / "train.yaml").write_text(HEAD.format(algorithm=algorithm, space=space, more=more, tail=tail))
    result = check(find_project(tmp_path))
    return [f"{p.line}:{p.column}: {p.message}" for p in result.problems]


def test_a_good_sweep_validates(tmp_path) -> None:
    assert problems(tmp_path, "C: {type: loguniform, min_value: -6.91, max_value: 4.61}",
                    tail="models:\n  m: {job: train, from: best, path: outputs/m}\n") == []


@pytest.mark.parametrize(("space", "kwargs", "expected"), [
    ("gamma: {type: uniform, min_value: 0, max_value: 1}", {},
     "9:9: swept name 'gamma' is not a param of job 'train' (params: C, kernel); add it to `params:`"),
    ("C: {type: uniform, min_value: 0, max_value: 1}", {"algorithm": "grid", "more": ""},
     "9:19: grid sampling takes only `type: choice` (got uniform)"),
    ("C: {type: normal, mu: 0, sigma: 1}", {"algorithm": "bayesian"},
     "9:19: bayesian sampling takes choice, randint, uniform, quniform, loguniform, qloguniform (got normal)"),
    ("C: {type: loguniform, min_value: 0.001, max_value: 100}", {},
     "9:60: loguniform bounds are exponents: exp(100) = 2.7e43; for 0.001..100 write -6.91..4.61"),
    ("C: {type: uniform, min_value: 0, max_value: 1}", {"more": ""},
     "6:5: random sampling needs `limits: {max_total_trials: N}`"),
    ("C: {type: uniform, min_value: 2, max_value: 1}", {},
     "9:9: min_value (2.0) must be less than max_value (1.0)"),
    ("C: {type: quniform, min_value: 0, max_value: 1}", {}, "9:9: `type: quniform` needs q (min_value, max_value, q)"),
    ("C: {type: choice, values: [1, 2], upper: 3}", {},
     "9:9: upper does not go with `type: choice` (it takes values)"),
    ("C: {type: choice, values: []}", {}, "9:9: `values:` is empty: give at least one value"),
    ("C: {type: poisson}", {}, "9:19: expected one of 'choice', 'randint', 'uniform', 'loguniform', 'normal', "
                               "'lognormal', 'quniform', 'qloguniform', 'qnormal' or 'qlognormal', "
                               "got the string 'poisson'"),
    ("C: {type: randint, upper: 0}", {}, "9:35: upper must be greater than 0"),
    ("C: {type: choice, values: [1]}", {"more": "early_termination: {type: bandit}"},
     "11:7: `type: bandit` needs exactly one of slack_factor or slack_amount"),
    ("C: {type: choice, values: [1]}", {"more": "early_termination: {type: median_stopping, slack_factor: 1}"},
     "11:7: slack_factor does not go with `type: median_stopping`"),
    ("C: {type: choice, values: [1]}", {"more": "limits: {max_total_trials: 0}"},
     "11:34: max_total_trials must be greater than 0"),
    ("C: {type: choice, values: [1]}", {"more": "limits: {max_total_trials: 2, timeout: soon}"},
     "11:46: bad duration 'soon': use a number with s, m or h, e.g. 30m or 1h30m"),
])
def test_each_mistake_is_one_located_problem(tmp_path, space, kwargs, expected) -> None:
    assert problems(tmp_path, space, **kwargs) == [expected]


def test_models_of_swept_jobs_say_from_best_and_only_they_do(tmp_path) -> None:
    tail = """\
  other: {script: train.py}
  reads: {script: train.py, inputs: {m: {job: train, path: outputs/m}}}
models:
  a: {job: train, path: outputs/m}
  b: {job: other, from: best, path: outputs/m}
  c: {job: train, from: worst, path: outputs/m}
"""
    found = problems(tmp_path, "C: {type: choice, values: [1]}", tail=tail)
    assert found == [
        "13:47: job 'train' is a sweep (many trials, no single output): register its best trial with a model "
        "`from: best` and read that, or drop the sweep",
        "15:3: job 'train' is a sweep: say which trial to register with `from: best`",
        "16:25: `from: best` needs a job with a `sweep:`; job 'other' has none",
        "17:25: expected one of 'best', got the string 'worst'",
    ]
