"""The independent witness: gradient flow and gradient descent on the raw parameters (torch).

It integrates the depth-D diagonal network ``beta = w+^D - w-^D`` (and the width-k D = 2 model)
in its own parameters and never uses the derived closed forms, potentials or solvers
(``krtheory.symbolic``, ``krtheory.numeric``, ``krtheory.solvers`` are not imported).
"""
from .descent import gradient_descent
from .flow import gradient_flow, width_flow
from .linearized import lazy_distance, linearized_flow
from .result import FlowResult, LazyDistance, LinearizedResult

__all__ = ["gradient_flow", "gradient_descent", "linearized_flow", "lazy_distance", "width_flow", "FlowResult", "LinearizedResult", "LazyDistance"]
