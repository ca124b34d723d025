"""krtheory: verify the kernel and rich regimes of overparametrized diagonal networks.

Woodworth, Gunasekar, Lee, Moroshko, Savarese, Golan, Soudry, Srebro, "Kernel and Rich Regimes
in Overparametrized Models", COLT 2020. The package derives the theory with SymPy from the
parameter ODE (:mod:`krtheory.symbolic`), compiles it into accurate NumPy/torch functions
(:mod:`krtheory.numeric`), solves for the implicit-bias interpolators (:mod:`krtheory.solvers`),
integrates the raw-parameter dynamics independently (:mod:`krtheory.dynamics`) and checks the
theorems as claims (:mod:`krtheory.claims`).

Public names are resolved lazily so that ``import krtheory`` is cheap and importing the dynamics
engine does not import the derivations it is meant to witness independently.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    # numeric
    "potential": "krtheory.numeric",
    "Potential": "krtheory.numeric",
    "Q": "krtheory.numeric",
    # solvers
    "implicit_bias_solution": "krtheory.solvers",
    "shaped_potential_solution": "krtheory.solvers",
    "min_l1_interpolator": "krtheory.solvers",
    "min_l2_interpolator": "krtheory.solvers",
    "InterpolationResult": "krtheory.solvers",
    # regularizers (THEORY.md s6)
    "distance_regularizer": "krtheory.regularizers",
    "min_distance_interpolator": "krtheory.regularizers",
    # dynamics
    "gradient_flow": "krtheory.dynamics",
    "gradient_descent": "krtheory.dynamics",
    "linearized_flow": "krtheory.dynamics",
    "FlowResult": "krtheory.dynamics",
    "width_flow": "krtheory.dynamics",
    "lazy_distance": "krtheory.dynamics",
    # symbolic
    "derive": "krtheory.symbolic",
    # claims and property checks
    "claims": "krtheory.claims",
    "strategies": "krtheory.strategies",
    "check": "krtheory.check",
    # errors
    "InvalidInputError": "krtheory._validation",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    try:
        module_name = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'krtheory' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
