"""The package's architecture holds: layers import only downwards, no import cycles, and the
TensorFlow-free parts (utils, the ONNX runtime, the zoo registry, the catalog commands) stay so."""

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ganzoo"

# Bottom up; a module may import its own layer or lower ones, never a higher one.
LAYERS = [
    ("ganzoo.errors", "ganzoo.utils"),
    ("ganzoo.registry", "ganzoo.distribute", "ganzoo.objectives", "ganzoo.models.layers", "ganzoo.models.nets"),
    ("ganzoo.models",),
    ("ganzoo.data",),
    ("ganzoo.deploy",),
    ("ganzoo.evaluation",),
    ("ganzoo.training",),
    ("ganzoo.latent",),
    ("ganzoo.cli",),
]
TENSORFLOW_FREE = [
    "ganzoo",
    "ganzoo.errors",
    "ganzoo.utils.files",
    "ganzoo.utils.images",
    "ganzoo.utils.sampling",
    "ganzoo.utils.versions",
    "ganzoo.registry",
    "ganzoo.deploy.runtime",
    "ganzoo.deploy.manifest",
    "ganzoo.deploy.zoo",
    "ganzoo.deploy.demo",
    "ganzoo.cli",
    "ganzoo.cli.demo",
    "ganzoo.runtime",
    "ganzoo.zoo",
]


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> ganzoo modules it imports anywhere (module level or inside functions)."""
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.startswith("ganzoo"))
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("ganzoo"):
                for alias in node.names:  # `from ganzoo.x import y`: the submodule y if there is one
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in modules else node.module)
        graph[name] = {t for t in targets if t != name and t != "ganzoo"}
    return graph


def _layer(module: str) -> int:
    best = None
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (rank, len(prefix))
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best[0]


def _upwards(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{a} -> {b}" for a, targets in graph.items() if a != "ganzoo" for b in targets if _layer(b) > _layer(a)
    )


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    cycles = []

    def visit(module, stack):
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target, [*stack, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_nothing_imports_upwards():
    assert _upwards(_imports(_modules())) == []


def test_there_is_no_import_cycle():
    assert _cycles(_imports(_modules())) == []


def test_the_checks_catch_a_cycle_and_an_upward_import():
    assert _cycles({"ganzoo.a": {"ganzoo.b"}, "ganzoo.b": {"ganzoo.c"}, "ganzoo.c": {"ganzoo.a"}}) == [
        ["ganzoo.a", "ganzoo.b", "ganzoo.c", "ganzoo.a"]
    ]
    assert _upwards({"ganzoo.models.base": {"ganzoo.deploy.zoo"}}) == ["ganzoo.models.base -> ganzoo.deploy.zoo"]
    # a function-level import counts as much as a module-level one
    tree = ast.parse("def f():\n    from ganzoo.deploy import zoo\n")
    assert any(isinstance(n, ast.ImportFrom) for n in ast.walk(tree))


def test_utils_runtime_zoo_and_cli_import_no_tensorflow():
    script = (
        f"import importlib, json, sys\nfor m in {TENSORFLOW_FREE!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'tf2onnx'})))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == []


def test_cli_help_list_and_info_answer_without_tensorflow():
    script = (
        "import json, sys\nfrom ganzoo.cli import main\ncodes = []\n"
        "for argv in (['list'], ['info', 'dcgan-digits'], ['list', 'style*']):\n    codes.append(main(argv))\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    codes.append(e.code)\n"
        "print(json.dumps([codes, sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'})]))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "stylegan" in result.stdout and "dcgan-digits" in result.stdout and "architecture" in result.stdout
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [[0, 0, 0, 0], []]


def test_commands_that_need_tensorflow_print_none_of_its_log_lines(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "ABSL"))}
    script = "import sys\nfrom ganzoo.cli import main\nsys.exit(main(sys.argv[1:]))"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "sample",
            "dcgan-digits",
            "--backend",
            "keras",
            "-n",
            "4",
            "-o",
            str(tmp_path / "s.png"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for marker in ("oneDNN", "cpu_feature_guard", "cuda", "I0000", "E0000", "W0000"):
        assert marker not in result.stderr, result.stderr[-2000:]
    assert (tmp_path / "s.png").is_file()
