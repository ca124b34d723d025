"""Command-line front end: ``krtheory derive | prove | verify | reproduce``.

The only module that talks to the terminal. Each subcommand imports its layer lazily so that
``krtheory --help`` is instant and a failure in one layer cannot break the others.
"""
from __future__ import annotations

import argparse
import os
import sys

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INCONCLUSIVE = 0, 1, 2, 3


def _depth(text: str) -> float | int | str:
    if text.strip() == "D":
        return "D"  # the symbolic depth (also the default)
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"depth must be a number >= 2, got {text!r}") from None
    if not value >= 2 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"depth must be a finite number >= 2, got {text!r}")
    return int(value) if value.is_integer() else value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _cmd_derive(args) -> int:
    from krtheory.symbolic import derive

    depth = "D" if args.depth is None else args.depth
    derivation = derive(depth, loss=args.loss, series_order=args.series)
    print(derivation.render(args.format))
    return EXIT_OK if derivation.passed else EXIT_FAIL


def _cmd_prove(args) -> int:
    from krtheory.symbolic.proofs import PROOFS, run_proofs

    if args.list:
        for name, proof in PROOFS.items():
            print(f"{name:28s} {proof.title}")
        return EXIT_OK
    names = args.names or list(PROOFS)
    unknown = [n for n in names if n not in PROOFS]
    if unknown:
        print(f"krtheory prove: unknown proof(s) {', '.join(unknown)}; known: {', '.join(PROOFS)}", file=sys.stderr)
        return EXIT_USAGE
    reports = run_proofs(names, verbose=args.verbose, stream=sys.stdout)
    return EXIT_OK if all(r.passed for r in reports) else EXIT_FAIL


def _cmd_verify(args) -> int:
    from krtheory.claims.runner import main as verify_main

    return verify_main(args)


def _cmd_reproduce(args) -> int:
    from krtheory.reproduce.runner import main as reproduce_main

    return reproduce_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="krtheory",
        description="Verify the kernel and rich regimes of depth-D diagonal networks "
        "(Woodworth et al., COLT 2020) with symbols and with numbers.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("derive", help="print the formulas SymPy derives from the flow ODE")
    p.add_argument("--depth", type=_depth, default=None, help="depth D >= 2, or 'D' for the symbolic D > 2 (default)")
    p.add_argument("--format", choices=("text", "latex", "python", "json"), default="text")
    p.add_argument("--series", type=_positive_int, default=6, metavar="N", help="series order at 0 (default 6)")
    p.add_argument("--loss", choices=("sum", "half", "mean"), default="sum", help="loss normalization (default: the paper's sum)")
    p.set_defaults(func=_cmd_derive)

    p = sub.add_parser("prove", help="run the step-by-step symbolic proofs and print a table")
    p.add_argument("names", nargs="*", help="proofs to run (default: all)")
    p.add_argument("--list", action="store_true", help="list the proofs and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="print every step")
    p.set_defaults(func=_cmd_prove)

    p = sub.add_parser("verify", help="check every claim against the integrated dynamics (the main job)")
    p.add_argument("--claim", action="append", metavar="ID", help="run only this claim (repeatable)")
    p.add_argument("--list", action="store_true", help="list the claims and exit")
    p.add_argument("--examples", type=_positive_int, default=None, metavar="N", help="examples per claim")
    p.add_argument("--thorough", action="store_true", help="more examples, wider ranges")
    p.add_argument("--device", default=None, help="torch device for the dynamics (default: cuda if available)")
    p.add_argument("--seed", type=int, default=0, help="seed for every generated problem (default 0)")
    p.add_argument("--json", metavar="PATH", default=None, help="write the full report as JSON")
    p.add_argument("--counterexamples", metavar="DIR", default="krtheory-counterexamples",
                   help="where a failing claim saves its counterexample .npz")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("reproduce", help="reproduce the paper's experiments (figure, CSV, summary)")
    p.add_argument("name", nargs="?", help="experiment name, or 'all'")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--out", default="krtheory-out", help="output directory (default ./krtheory-out)")
    p.add_argument("--quick", action="store_true", help="reduced size (< 30 s each on 2 cores)")
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=None,
                   help="override a size/setting parameter of one experiment (repeatable; see summary.json params)")
    p.set_defaults(func=_cmd_reproduce)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except ValueError as exc:  # InvalidInputError and friends: a clear message, no traceback
        print(f"krtheory {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"krtheory {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # output piped into `head` and the like: stop quietly, and keep Python's exit-time flush quiet too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
