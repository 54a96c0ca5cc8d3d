"""``chroma-adapter``: the command line.

Runtime commands live here; training commands live in the ``trainer`` package and are imported
only when invoked (each such module provides ``add_arguments(parser)`` and ``run(args) -> int``),
so the runtime never loads training code. Errors print one line (``--debug`` for a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Callable, Sequence

TRAINER_COMMANDS = {
    "train": ("trainer.train", "train an adapter on (query, chunk) pairs"),
    "evaluate": ("trainer.evaluate", "Recall@k / MRR@k of an adapter through a real Chroma collection"),
    "benchmark": ("trainer.benchmark", "the full side-by-side benchmark on the shared data"),
    "chunk": ("trainer.chunking", "split PDFs into cl100k token chunks (800/400)"),
    "generate": ("trainer.generate", "generate training questions per chunk (LLM or --offline)"),
    "offline-model": ("trainer.model_cache",
                      "lay a local copy of the base model into the Hub cache (air-gapped use)"),
}


def _client(args: argparse.Namespace):
    import chromadb

    if args.host:
        return chromadb.HttpClient(host=args.host, port=args.port)
    return chromadb.PersistentClient(path=args.path)


def _cmd_convert(args: argparse.Namespace) -> int:
    from .convert import convert_seed_checkpoint

    adapter = convert_seed_checkpoint(args.checkpoint, args.output_dir, base_model=args.base_model)
    print(f"wrote {args.output_dir} ({adapter.dimension}x{adapter.dimension}, base model "
          f"{adapter.base_model})")
    return 0


def _cmd_attach(args: argparse.Namespace) -> int:
    from .collections import attach
    from .embedding_function import AdapterEmbeddingFunction

    ef = AdapterEmbeddingFunction.from_pretrained(args.adapter, revision=args.revision)
    report = attach(_client(args), args.source, args.target, ef, batch_size=args.batch_size,
                    delete_source=args.delete_source)
    print(f"copied {report.copied} records from {report.source!r} into {report.target!r} "
          f"(no re-embedding); source {'deleted' if report.source_deleted else 'kept'}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from .adapter import QueryAdapter

    adapter = QueryAdapter.from_pretrained(args.adapter, revision=args.revision)
    config = adapter.config
    if not args.full:
        config.pop("fingerprint", None)
    print(json.dumps(config, indent=2))
    return 0


def _cmd_push(args: argparse.Namespace) -> int:
    from .adapter import QueryAdapter

    adapter = QueryAdapter.from_pretrained(args.adapter)
    info = adapter.push_to_hub(args.repo_id, private=args.private, revision=args.revision,
                               commit_message=args.message)
    print(f"pushed to {getattr(info, 'commit_url', None) or args.repo_id}")
    return 0


def _add_db_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--path", default="./chroma", help="PersistentClient directory (default ./chroma)")
    p.add_argument("--host", help="reach a `chroma run` server instead of --path")
    p.add_argument("--port", type=int, default=8000)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser; only the trainer module of ``command`` (if any) is imported."""
    parser = argparse.ArgumentParser(prog="chroma-adapter", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("convert", help="import a seed-notebook .pth adapter (weights only)")
    p.add_argument("checkpoint")
    p.add_argument("output_dir")
    p.add_argument("--base-model", default="sentence-transformers/all-MiniLM-L6-v2")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("attach", help="copy an existing collection onto the adapter EF "
                                      "(stored embeddings, no re-embedding)")
    _add_db_arguments(p)
    p.add_argument("--source", required=True, help="existing collection")
    p.add_argument("--target", required=True, help="new collection served through the adapter")
    p.add_argument("--adapter", required=True, help="adapter directory or Hub repo id")
    p.add_argument("--revision")
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--delete-source", action="store_true",
                   help="delete the source once every record is copied")
    p.set_defaults(func=_cmd_attach)

    p = sub.add_parser("info", help="print an adapter's config")
    p.add_argument("adapter")
    p.add_argument("--revision")
    p.add_argument("--full", action="store_true", help="include the base-model fingerprint")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("push", help="upload an adapter directory to the Hub")
    p.add_argument("adapter")
    p.add_argument("repo_id")
    p.add_argument("--private", action="store_true", default=None)
    p.add_argument("--revision")
    p.add_argument("--message", default="Upload query adapter")
    p.set_defaults(func=_cmd_push)

    for name, (module, help_text) in TRAINER_COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(func=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    debug = "--debug" in argv
    try:
        args = build_parser(command).parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return int(func(args) or 0)
    except BrokenPipeError:  # e.g. `chroma-adapter info X | head`
        return 0
    except KeyboardInterrupt:
        print("chroma-adapter: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line, not a traceback, unless --debug
        if debug:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        label = "error" if isinstance(exc, (ValueError, OSError)) else type(exc).__name__
        print(f"chroma-adapter: {label}: {message or type(exc).__name__}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
