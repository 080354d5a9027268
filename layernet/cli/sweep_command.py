"""``layernet sweep``: run a hyperparameter sweep (Optuna search, trials on Dask) from a YAML spec."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import LayernetError
from ..sweeps.driver import as_spec, prepare, run_sweep
from ..sweeps.search import require_extras
from .commands import Command, positive_int, say
from .rundir import add_consent_argument


def arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``layernet sweep``."""
    parser.add_argument("spec", nargs="?", type=Path, help="the sweep spec (YAML: base config, space, "
                        "search; see docs/sweeps.md); optional with --resume")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--out", type=Path, metavar="SWEEP_DIR", help="sweep directory to create "
                       "(default: sweeps/<spec name>-<time>)")
    group.add_argument("--resume", type=Path, metavar="SWEEP_DIR", help="continue the sweep in "
                       "SWEEP_DIR: finished trials are kept, trials left running are run again")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run trials on an existing Dask "
                        "cluster, e.g. tcp://host:8786 (default: a local cluster)")
    parser.add_argument("--storage", metavar="URL", help="Optuna storage: a database URL "
                        "(sqlite:///sweep.db, postgresql://...) or a journal file (default: "
                        "SWEEP_DIR/journal.log)")
    parser.add_argument("--workers", type=positive_int, metavar="N", help="local worker processes "
                        "(default: search.workers, else one per core)")
    parser.add_argument("--print-spec", action="store_true", help="check the spec, print it with its "
                        "base config inlined and every default written out, and exit (no trials run)")
    parser.add_argument("--quiet", action="store_true", help="print only the final summary")
    add_consent_argument(parser)


def handler(args: argparse.Namespace) -> int:
    """Run the sweep, printing one line per ended trial, then where its results are."""
    if args.print_spec:
        if args.spec is None:
            raise LayernetError("--print-spec needs a spec: layernet sweep SPEC --print-spec")
        sys.stdout.write(as_spec(args.spec, allow_plugins=args.allow_plugins).to_yaml())
        return 0
    require_extras()
    run = prepare(args.spec, out=args.out, resume=args.resume, scheduler=args.scheduler,
                  storage=args.storage, workers=args.workers, allow_plugins=args.allow_plugins,
                  report=None if args.quiet else say)
    spec = run.spec
    seed = spec.sampler.seed
    say(f"sweep {spec.source} -> {run.directory}: {spec.settings.trials} trials, {spec.direction} "
        f"{spec.settings.metric}, {spec.sampler.type} sampler"
        f"{'' if seed is None else f' (seed {seed})'}, {spec.pruner.type} pruning")
    try:
        result = run_sweep(run)
    except KeyboardInterrupt:
        print(f"layernet: sweep stopped; finished trials are kept in {run.directory}/; continue it "
              f"with: layernet sweep --resume {run.directory}", file=sys.stderr, flush=True)
        raise
    states = result.trials["state"].value_counts()
    say(f"done: {len(result.trials)} trials ({states.get('COMPLETE', 0)} complete, "
        f"{states.get('PRUNED', 0)} pruned, {states.get('FAIL', 0)} failed)")
    if result.best is not None:
        say(f"best {spec.settings.metric}: {result.best_value:.4f}; train it with: layernet train "
            f"{run.directory / 'best.yaml'}")
    say(f"wrote {run.directory}/: " + ", ".join(path.name for path in result.written) + ", trials/")
    return 0


COMMAND = Command("sweep", "search hyperparameters: trials of a base config on a Dask cluster "
                  "(needs layernet[sweep])", "layernet sweep configs/sweeps/mnist-mlp.yaml --workers 2",
                  arguments, handler)
