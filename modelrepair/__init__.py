"""modelrepair: the science of model repair (Gao & Lafferty 2020).

Corrupt a fraction eps of a trained model's parameters, then recover them exactly by
least-absolute-deviation (L1) regression on the design alone. This package knows
nothing of sweeps, jobs or result files: `jobs` calls it through
`modelrepair.models` (fit a model spec, repair one cell).
"""

__version__ = "0.1.0"
