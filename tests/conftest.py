"""The suite's Hypothesis profile: no wall-clock deadline, the same examples on every run.

A test without its own ``@settings`` otherwise gets Hypothesis's 200 ms deadline and
random examples, so a busy machine could fail it (CI on 2 shared cores did: 378 ms for
one tiny heuristic case). Explicit settings still override what they set.
"""

from hypothesis import settings

settings.register_profile("lpsched", deadline=None, derandomize=True, database=None)
settings.load_profile("lpsched")
