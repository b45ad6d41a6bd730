"""``medtl`` console script.

Each subcommand lives in its own module under ``medtl.cli`` exposing ``register(subparsers)``
(adds its parser, fast: no heavy imports) and ``run(args) -> int``. Heavy libraries (torch,
MONAI) are imported inside ``run`` so ``medtl --help`` is instant.

Exit status: 0 success, 1 when some input failed, 2 on a usage error. No traceback reaches the
user: a :class:`~medtl.errors.MedtlError` becomes one line on stderr; anything unexpected is
reported in one line too (set ``MEDTL_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Explicit list (no folder scanning): subcommand module names under medtl.cli.
COMMANDS = ("inspect", "manifest", "pretrain", "train", "compare", "evaluate", "score", "review", "reviews", "select",
            "weights", "demo")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit with 2, one line, no traceback
        self.print_usage(sys.stderr)
        print(f"medtl: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    from medtl import __version__

    parser = _Parser(prog="medtl", description="Transfer learning for medical images.")
    parser.add_argument("--version", action="version", version=f"medtl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"medtl.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"medtl.cli.{name}":
                continue  # command not part of this build
            raise
        sub_parser = module.register(sub)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from medtl.errors import MedtlError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except MedtlError as exc:
        print(f"medtl {args.command}: error: {exc}", file=sys.stderr)
        return 2 if exc.code in ("bad_config", "usage") else 1
    except KeyboardInterrupt:
        print(f"medtl {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: one line, never a traceback (unless MEDTL_DEBUG)
        if os.environ.get("MEDTL_DEBUG"):
            raise
        print(f"medtl {args.command}: internal error: {type(exc).__name__}: {exc} "
              "(set MEDTL_DEBUG=1 for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
