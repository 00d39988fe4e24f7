"""Experiments that check the simulator against known results.

- :mod:`sim.experiments.aws_jitter`: the 2015 AWS Architecture Blog
  backoff-and-jitter experiment, run by the simulator and by a port of the
  blog's own event model;
- :mod:`sim.experiments.stats`: replications and confidence intervals;
- :mod:`sim.experiments.theory`: exact queueing formulas.
"""
