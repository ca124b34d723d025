"""The depth limits D -> 2 and D -> oo of the link, H and q (THEORY.md sections 1 and 4).

Both are taken in ``p = D/(D-2)`` (D -> 2+ is p -> oo, D -> oo is p -> 1+), where
``h_D(u) = (1-u)^(-p) - (1+u)^(-p)`` and ``H_D(u) = ((1-u)^(1-p) + (1+u)^(1-p) - 2)/(p-1)``
(the derived forms; the steps first check that these equal the depth-D derivation in D).
D -> 2: with the rescaling u -> u/p, h_D(u/p) -> 2 sinh u and p H_D(u/p) -> 2 cosh u - 2, so
the parametric curve of p q_D converges to that of q: p q_D(h_D(u/p)) -> 2u sinh u - 2 cosh u + 2
= q(2 sinh u). D -> oo: h -> 2u/(1-u^2), H -> -log(1-u^2), and q_oo in closed form.
"""
from __future__ import annotations

import sympy as sp

from .steps import Recorder
from .symbols import D_SYM, Z_POS, p, u, z

__all__ = ["derive_depth_limits"]


def derive_depth_limits(rec: Recorder, hD, HD) -> dict:
    """``hD``, ``HD``: the link and H derived for the symbolic depth; the D = 2 side is derived here."""
    from .derivation import derive

    d2 = derive(2)
    # rewrite in p: D = 2p/(p-1)
    Dp = 2 * p / (p - 1)
    h_p = (1 - u) ** (-p) - (1 + u) ** (-p)
    H_p = ((1 - u) ** (1 - p) + (1 + u) ** (1 - p) - 2) / (p - 1)
    rec.equal("h_D in p = D/(D-2): h = (1-u)^(-p) - (1+u)^(-p)", hD.subs(D_SYM, Dp), h_p,
              domains={"p": (1.3, 6.0)}, positive_bases=True)
    rec.equal("H_D in p: H = ((1-u)^(1-p) + (1+u)^(1-p) - 2)/(p-1)", HD.subs(D_SYM, Dp), H_p,
              domains={"p": (1.3, 6.0)}, positive_bases=True)
    q2u = d2.formulas["potential_parametric"][1]          # 2u sinh u - 2 cosh u + 2
    h2 = d2.formulas["link"]
    H2 = d2.formulas["conjugate"]
    lim_h = sp.limit(h_p.subs(u, u / p), p, sp.oo)
    rec.limit("D -> 2: h_D(u/p) -> 2 sinh(u) (p -> oo)", h_p.subs(u, u / p), p, sp.oo, h2,
              detail=f"sympy.limit gives {lim_h}")
    rec.limit("D -> 2: p H_D(u/p) -> H_2(u) = 2 cosh(u) - 2", p * H_p.subs(u, u / p), p, sp.oo, H2)
    pq = u * h_p.subs(u, u / p) - p * H_p.subs(u, u / p)   # p * [(u/p) h(u/p) - H(u/p)]
    rec.limit("D -> 2: p q_D(h_D(u/p)) -> q(2 sinh u) = 2u sinh u - 2cosh u + 2 (the D = 2 parametric form)",
              pq, p, sp.oo, q2u)
    # D -> oo, i.e. p -> 1+
    h_inf = sp.limit(h_p, p, 1, "+")
    H_inf = sp.limit(H_p, p, 1, "+")
    rec.equal("D -> oo: h_oo(u) = 2u/(1-u^2) (THEORY.md s4)", h_inf, 2 * u / (1 - u ** 2), numeric=False,
              detail="sympy.limit(h, p, 1, '+')")
    rec.equal("D -> oo: H_oo(u) = -log(1-u^2)", H_inf, -sp.log(1 - u ** 2), domains={"u": (-0.9, 0.9)},
              detail="sympy.limit(H, p, 1, '+')")
    roots = sp.solve(sp.Eq(h_inf, z), u)
    root = None
    for r in roots:
        val = sp.N(r.subs(z, sp.Rational(3, 2)))
        if val.is_real and abs(val) < 1:
            root = r
    rec.fact("h_oo(u) = z has exactly one root in (-1, 1)", sp.Eq(sp.Symbol("h_oo_inverse"), root if root is not None else sp.nan,
                                                                   evaluate=False), root is not None,
             detail=f"sympy.solve gives {roots}")
    q_inf = sp.simplify(z * root - H_inf.subs(u, root))
    rec.equal("q_oo(h_oo(u)) = u h_oo(u) - H_oo(u) (Legendre)", q_inf.subs(z, h_inf), u * h_inf - H_inf,
              domains={"u": (-0.9, 0.9)})
    ref = sp.sqrt(1 + z ** 2) - 1 - sp.log((1 + sp.sqrt(1 + z ** 2)) / 2)
    rec.equal("q_oo(z) = sqrt(1+z^2) - 1 - log((1+sqrt(1+z^2))/2) (THEORY.md s4)", q_inf, ref,
              domains={"z": (-6, 6)})
    rec.limit("q_oo(z) = |z| - log|z| + log 2 - 1 + o(1) at oo", ref.subs(z, Z_POS) - Z_POS + sp.log(Z_POS), Z_POS,
              sp.oo, sp.log(2) - 1)
    return {
        "limit_D_to_2_link": sp.Eq(sp.Limit(h_p.subs(u, u / p), p, sp.oo), h2, evaluate=False),
        "limit_D_to_2_potential": sp.Eq(sp.Limit(pq, p, sp.oo), q2u, evaluate=False),
        "link_D_infinity": h_inf,
        "conjugate_D_infinity": H_inf,
        "potential_D_infinity": ref,
    }
