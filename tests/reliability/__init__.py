"""The reliability suite: ``python -m tests.reliability [--short]`` (``make reliability``).

One module per scenario, each exposing ``run(size) -> Result``; README: "What Heed promises".
"""
