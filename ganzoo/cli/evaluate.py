"""``ganzoo eval``: quality numbers of a generator, with the protocol stated."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ganzoo.cli.common import Command, cell, table


def _configure_eval(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="pretrained model name, a .keras file, or a run folder holding model.keras")
    p.add_argument("--data", default=None, help="real data spec (default: the zoo card's or the run's data)")
    p.add_argument(
        "--metrics",
        default="fid,kid,pr,dc",
        help="comma-separated: fid, kid, pr, dc, is, and cas (classification accuracy score, conditional models)",
    )
    p.add_argument(
        "--split", default=None, help="real split to compare with (default: the data's, e.g. test for fashion_mnist)"
    )
    p.add_argument("--cas-epochs", type=int, default=5, help="epochs of the CAS classifier recipe")
    p.add_argument(
        "--cas-per-class",
        type=int,
        default=None,
        help="generated images per class for CAS (default: as many as the real training split)",
    )
    p.add_argument("-n", type=int, default=None, help="generated samples (default: as many as real ones, up to 10,000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the full result as JSON here")


def run_eval(args: argparse.Namespace) -> int:
    """Measure a generator's quality (FID, KID, precision/recall, ...) with the protocol stated."""
    from ganzoo.deploy import loading, zoo
    from ganzoo.evaluation.cas import classification_accuracy_score
    from ganzoo.evaluation.evaluate import evaluate_model

    data, target = args.data, args.name
    run = Path(args.name)
    if run.is_dir():
        target = str(run / "model.keras")
        if data is None and (run / "config.json").exists():
            data = json.loads((run / "config.json").read_text())["config"]["data"]
    elif data is None and not args.name.endswith(".keras"):
        data = zoo.info(args.name).get("data", {}).get("spec")
    if data is None:
        raise ValueError(f"cannot tell which data {args.name} was trained on: pass --data SPEC.")
    model = loading.load(target)
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    if not metrics:
        raise ValueError("--metrics names no metric; expected a comma-separated list such as fid,kid,pr,dc or cas.")
    sample_metrics = tuple(m for m in metrics if m != "cas")
    result = {}
    if sample_metrics:
        result = evaluate_model(model, data, metrics=sample_metrics, n_fake=args.n, split=args.split, seed=args.seed)
    if "cas" in metrics:
        cas = classification_accuracy_score(
            model, data, n_per_class=args.cas_per_class, epochs=args.cas_epochs, seed=args.seed
        )
        result.update({key: value for key, value in cas.items() if key != "protocol"}, cas_protocol=cas["protocol"])
    rows = [(key, cell(value)) for key, value in result.items() if not isinstance(value, (dict, list))]
    print(table(["metric", "value"], rows))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, sort_keys=True, default=float))
        print(f"Wrote {args.json}")
    return 0


COMMANDS = {"eval": Command(_configure_eval, run_eval)}
