"""``ganzoo demo``: build the zoo's static browser demo (onnxruntime-web) and optionally serve it, without TensorFlow."""

from __future__ import annotations

import argparse
import webbrowser

from ganzoo.cli.common import Command, never


def configure_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", help="zoo models to include (default: every local one within --max-model-mb)")
    p.add_argument("--out", default="demo", help="folder to write the site to (default: ./demo)")
    p.add_argument(
        "--ort-dist",
        default=None,
        help="onnxruntime-web's dist folder (default: $GANZOO_ORT_DIST, web/node_modules, the cache, npm install)",
    )
    p.add_argument(
        "--max-model-mb", type=float, default=None, help="size budget of each model's ONNX graphs in MiB (default 4)"
    )
    p.add_argument("--serve", action="store_true", help="serve the site on 127.0.0.1 after building it")
    p.add_argument("--port", type=int, default=0, help="port for --serve (default: a free one, printed)")
    p.add_argument("--open", action="store_true", help="with --serve: open the page in the default browser")


def run_demo(args: argparse.Namespace) -> int:
    """Build a static demo site of zoo models running in the browser (onnxruntime-web); --serve serves it."""
    from ganzoo.deploy import demo

    budget = demo.DEFAULT_MAX_MODEL_MB if args.max_model_mb is None else args.max_model_mb
    index = demo.build(args.out, args.names, ort_dist=args.ort_dist, max_model_mb=budget)
    weight = index["weight"]
    print(
        f"Wrote {args.out}: {len(index['models'])} model{'s' * (len(index['models']) != 1)} "
        f"({', '.join(m['name'] for m in index['models'])}); "
        f"page weight {weight['total_bytes'] / 1e6:.1f} MB (onnxruntime-web {weight['runtime_bytes'] / 1e6:.1f} MB, "
        f"models {weight['models_bytes'] / 1e6:.1f} MB)."
    )
    if not args.serve:
        print(f"Serve it with `ganzoo demo --serve --out {args.out}` (the page needs http, not file://).")
        return 0
    server = demo.serve(args.out, args.port)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(f"Serving {args.out} at {url} (Ctrl-C to stop)", flush=True)
    if args.open:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


COMMANDS = {"demo": Command(configure_demo, run_demo, never)}
