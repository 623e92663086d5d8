"""The terminal door: ``intentgap demo|serve|import|export|project|raters|audit|train|...``.

Every command takes ``--workspace DIR`` (else ``$INTENTGAP_HOME``, else ``./workspace``) and
``--database URL`` (else ``$INTENTGAP_DATABASE_URL``, else the workspace's DuckDB file).
Commands orchestrate; the work happens in ``data/``, ``labeling/`` and ``reward/``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from data.export import SnapshotExists
from data.formats import FORMATS, MAX_BYTES
from data.importers import import_file
from data.presets import PRESETS
from data.store import Project, Store, WorkspaceLocked
from data.workspace import DATABASE_ENV_VAR, ENV_VAR, StoreWriteError, Workspace
from labeling.policies import POLICIES

__all__ = ["main"]

REPO = Path(__file__).resolve().parent
POLICY_NAMES = tuple(POLICIES)
DEFAULT_BASE_URL = "http://127.0.0.1:8501"
DEMO_RATERS = ("demo-rater-1", "demo-rater-2", "demo-rater-3")


class CommandError(Exception):
    """A failure the user can fix; printed as one line, no traceback."""


# -- commands --------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """Create the workspace with the bundled demo: the project, its pairs and probe pairs, a
    simulated rater pool that has voted on every pair already, three demo raters and an admin
    password."""
    from labeling.demo import demo_probe_pairs

    workspace = Workspace.resolve(args.workspace, args.database).create()
    demo = resources.files("data").joinpath("demo")
    settings = json.loads(demo.joinpath("project.json").read_text(encoding="utf-8"))
    project_id = settings["project_id"]
    with _open_store(workspace) as store:
        _load_demo_project(store, settings, demo.joinpath("guidelines.md").read_text("utf-8"))
        with resources.as_file(demo.joinpath("pairs.jsonl")) as pairs_file:
            print(import_file(store, pairs_file, project_id).summary())
        probes = store.import_frames(demo_probe_pairs(store.pairs(project_id)), None, project_id)
        print(f"Probe pairs: {probes.pairs_new} new ({probes.pairs_existing} there already).")
        pool = json.loads(demo.joinpath("pool.json").read_text(encoding="utf-8"))
        _load_demo_votes(store, project_id, pool)
        _add_demo_raters(store, workspace, project_id)
    where = _demo_admin_password(workspace)
    print(f"Workspace: {workspace.root}")
    print(f"Admin: sign in with the password {where}.")
    print(
        f"Raters: open {args.base_url} and pick a demo rater on the sign-in page (offered"
        " while the workspace holds only the demo)."
    )
    return 0


def _load_demo_project(store: Store, settings: dict[str, Any], guidelines: str) -> None:
    """Create the demo project. A demo made by an older version gets the overlap the pool
    needs: the pool votes on every pair, and the demo raters still need work."""
    existing = store.project(settings["project_id"])
    if existing is None:
        store.save_project(_project_from(settings, guidelines=guidelines, is_demo=True))
        print(f"Created project {settings['project_id']!r}.")
    elif existing.overlap_k < settings["overlap_k"]:
        store.save_project(replace(existing, overlap_k=settings["overlap_k"]))


def _load_demo_votes(store: Store, project_id: str, pool_rows: list[dict[str, Any]]) -> None:
    """The simulated pool's votes (again: an import adds nothing twice). Its raters are kept
    to the demo and inactive: they are simulated, nobody signs in as them."""
    from labeling.demo import demo_votes, pool_from

    pool = pool_from(pool_rows)
    pairs = store.pairs(project_id)
    counts = store.import_frames(pairs, demo_votes(pairs, pool), project_id)
    for rater in pool:
        store.limit_rater_to(rater.rater_id, project_id)
        store.set_rater_active(rater.rater_id, False)
    print(
        f"Simulated raters: {len(pool)} ({', '.join(r.rater_id for r in pool)}), "
        f"{counts.judgments_new} new votes ({counts.judgments_existing} there already)."
    )


def _add_demo_raters(store: Store, workspace: Workspace, project_id: str) -> None:
    """The demo raters, kept to the demo. They sign in from the sign-in page, so no token is
    kept or printed; the token file an older version wrote (world-readable) is removed and
    its tokens revoked."""
    known = set(store.raters()["rater_id"].to_list())
    for rater in DEMO_RATERS:
        if rater not in known:
            store.add_rater(rater, rater.replace("-", " ").title(), only_project=project_id)
        else:
            store.limit_rater_to(rater, project_id)
    if workspace.demo_raters_file.exists():
        for rater in DEMO_RATERS:
            store.reset_token(rater)
        workspace.demo_raters_file.unlink()


def _demo_admin_password(workspace: Workspace) -> str:
    """Where the admin password is: the environment, else a file only its owner may read."""
    if os.environ.get("INTENTGAP_ADMIN_PASSWORD"):
        return "in $INTENTGAP_ADMIN_PASSWORD"
    if workspace.admin_password_file.exists():
        Workspace.keep_secret(workspace.admin_password_file)
    else:
        Workspace.write_secret(workspace.admin_password_file, secrets.token_urlsafe(12))
    return f"in {workspace.admin_password_file}"


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the app (Streamlit) on the workspace."""
    workspace = Workspace.resolve(args.workspace, args.database).create()
    with _open_store(workspace) as store:
        where = store.location  # fail here, plainly, if another process holds the database
    env = {**os.environ, ENV_VAR: str(workspace.root)}
    if workspace.database_url is not None:
        env[DATABASE_ENV_VAR] = workspace.database_url
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "server.py"),  # app.py plus the sign-in cookie routes
        "--server.port",
        str(args.port),
        "--server.address",
        args.address,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",  # no "Deploy" button: this app is served, not published
    ]
    print(
        f"intentgap on http://{args.address}:{args.port} (workspace {workspace.root},"
        f" database {where})"
    )
    sys.stdout.flush()
    # Become the server rather than its parent: a stop signal (systemd, a test, kill) then
    # reaches the process that holds the database, instead of orphaning it.
    os.execve(sys.executable, command, env)


def cmd_import(args: argparse.Namespace) -> int:
    """Import pairs and/or judgments from a file (JSONL, CSV, Parquet) or a preset folder."""
    mapping = dict(_parse_mapping(item) for item in args.map)
    with _open_store(Workspace.resolve(args.workspace, args.database).create()) as store:
        # A new project is created in the import's own transaction: a refused file leaves
        # no trace, not even the project it named.
        report = import_file(
            store,
            Path(args.file),
            args.project,
            format=args.format,
            shape=args.shape,
            preset=args.preset,
            mapping=mapping or None,
            source_rater=args.source_rater,
            max_bytes=args.max_bytes,
            create_project=True,
        )
    print(report.summary())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write a snapshot folder: pairs.parquet (TRL shape), judgments.parquet (every vote;
    probes.parquet names the probe pairs among their pairs), manifest.json."""
    from labeling.preference_set import ExportOptions, export_snapshot

    options = ExportOptions(
        min_judgments=args.min_judgments,
        min_agreement=args.min_agreement,
        ties=args.ties,
        include_gold=not args.no_gold,
        posterior=args.posterior,
        with_probes=args.with_probes,
    )
    with _open_store(Workspace.resolve(args.workspace, args.database).existing()) as store:
        try:
            manifest = export_snapshot(
                store,
                Path(args.out_dir),
                project_id=args.project,
                options=options,
                overwrite=args.overwrite,
            )
        except SnapshotExists as existing:
            raise CommandError(
                f"{existing.path} already holds files; choose a new folder, or pass"
                " --overwrite to replace them"
            ) from None
    print(json.dumps(_jsonable(manifest), indent=2, default=str))
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    """Show, create or change a project's labeling rules."""
    with _open_store(Workspace.resolve(args.workspace, args.database).create()) as store:
        current = store.project(args.project_id) or Project(args.project_id, args.project_id)
        changes: dict[str, Any] = {
            name: getattr(args, name)
            for name in _PROJECT_OPTIONS
            if getattr(args, name, None) is not None
        }
        if args.guidelines_file:
            changes["guidelines"] = Path(args.guidelines_file).read_text(encoding="utf-8")
        for name in ("principles", "flags"):
            if name in changes:
                changes[name] = tuple(p.strip() for p in changes[name].split(",") if p.strip())
        if changes or store.project(args.project_id) is None:
            store.save_project(replace(current, **changes))
        if args.scores:
            loaded = store.replace_scores(args.project_id, _read_scores(Path(args.scores)))
            print(f"Loaded {loaded:,} scores for the model policy.", file=sys.stderr)
        shown = store.project(args.project_id)
    print(json.dumps(_jsonable(shown), indent=2))
    return 0


def cmd_raters(args: argparse.Namespace) -> int:
    """Add raters (prints each one's secret sign-in link, good for one sign-in), list, reset
    (a new link; the old one and the rater's sessions end) or deactivate."""
    with _open_store(Workspace.resolve(args.workspace, args.database).create()) as store:
        if args.action == "list":
            print(store.raters().write_csv(), end="")
            return 0
        if not args.rater_ids:
            raise CommandError(f"'raters {args.action}' needs at least one rater id")
        for rater in args.rater_ids:
            if args.action == "add":
                print(f"{rater}: {args.base_url}/?token={store.add_rater(rater)}")
            elif args.action == "reset":
                print(f"{rater}: {args.base_url}/?token={store.reset_token(rater)}")
            else:
                store.set_rater_active(rater, args.action == "activate")
                print(f"{rater}: {args.action}d")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Agreement, rater reliability, blind spots and the model leaderboard."""
    from labeling.audit import audit_report, format_report

    if args.snapshot is not None:
        # A snapshot the admin exported from the running app: no database needed (with
        # DuckDB, the app holds the file while it serves).
        from reward.inherited import snapshot_pairs
        from reward.snapshot import load_snapshot

        snapshot = load_snapshot(args.snapshot)
        report = audit_report(snapshot_pairs(snapshot), snapshot.judgments, n_boot=args.n_boot)
    else:
        with _open_store(Workspace.resolve(args.workspace, args.database).existing()) as store:
            report = audit_report(
                store.pairs(args.project),
                store.judgments(args.project),
                n_boot=args.n_boot,
                raters=store.raters(),
            )
    print(json.dumps(report, indent=2, default=str) if args.json else format_report(report))
    return 0


def cmd_probes_make(args: argparse.Namespace) -> int:
    """Make probe pairs that test the raters: the intended loser of a pair with gold or a
    strong consensus, given a surface edit (padding, flattery, ...). Again adds nothing."""
    from labeling.rater_probes import PROBE_KINDS, make_probe_pairs

    kinds = PROBE_KINDS if args.kinds is None else _comma_list(args.kinds)
    with _open_store(Workspace.resolve(args.workspace, args.database).existing()) as store:
        if store.project(args.project) is None:
            raise CommandError(f"no project {args.project!r}")
        made = make_probe_pairs(
            store.pairs(args.project),
            store.judgments(args.project),
            kinds,
            min_votes=args.min_votes,
            min_agreement=args.min_agreement,
            seed=args.seed,
            raters=store.raters(),
        )
        counts = store.import_frames(made.pairs, None, args.project)
    for line in made.summary(kinds):
        print(line)
    print(
        f"Probe pairs in {args.project!r}: {counts.pairs_new} new,"
        f" {counts.pairs_existing} there already."
    )
    return 0


def _read_scores(path: Path) -> Any:
    """A checkpoint's scores file (``reward.score.SCORES``), or a one-line error."""
    import polars as pl

    try:
        scores = pl.read_parquet(path)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except (pl.exceptions.PolarsError, OSError) as error:
        raise CommandError(f"{path}: not a Parquet file of scores ({error})") from None
    missing = {"pair_id", "model_id", "reward_a", "reward_b"} - set(scores.columns)
    if missing:
        raise CommandError(f"{path}: lacks the column(s) {', '.join(sorted(missing))}")
    return scores


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _delegate(module: str) -> Callable[[argparse.Namespace], int]:
    """Training commands own their arguments (the config dataclass is the CLI)."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        entry: Callable[[list[str]], int] = importlib.import_module(module).main
        return entry(list(args.rest))

    return run


# -- parser ----------------------------------------------------------------------------------

_PROJECT_OPTIONS = tuple(
    f.name for f in fields(Project) if f.name not in ("project_id", "guidelines", "is_demo")
)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="intentgap",
        description="Preference data and reward models: label, audit, export, train, inspect.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--workspace",
        metavar="DIR",
        help=f"workspace folder (default: ${ENV_VAR}, else ./workspace)",
    )
    common.add_argument(
        "--database",
        metavar="URL",
        help=(
            f"a postgresql:// URL to keep the votes in, shared by several app processes and"
            f" commands (default: ${DATABASE_ENV_VAR}, else the workspace's DuckDB file)"
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", parents=[common], help=cmd_demo.__doc__)
    demo.add_argument("--base-url", default=DEFAULT_BASE_URL, help="used in the printed links")
    demo.set_defaults(run=cmd_demo)

    serve = sub.add_parser("serve", parents=[common], help=cmd_serve.__doc__)
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument("--address", default="127.0.0.1")
    serve.set_defaults(run=cmd_serve)

    imp = sub.add_parser("import", parents=[common], help=cmd_import.__doc__)
    imp.add_argument("file", help="a JSONL, CSV or Parquet file, or a preset's folder")
    imp.add_argument("--project", default="default", help="project to import into")
    imp.add_argument("--format", choices=FORMATS, help="skip detection")
    imp.add_argument("--shape", choices=["pairs", "trl", "judgments", "denormalised"])
    imp.add_argument("--preset", choices=list(PRESETS))
    imp.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="THEIRS=OURS",
        help="rename a column before import, e.g. --map question=prompt (repeatable)",
    )
    imp.add_argument("--source-rater", help="rater id for a dataset's own labels")
    imp.add_argument(
        "--max-bytes",
        type=_positive_bytes,
        default=MAX_BYTES,
        metavar="N",
        help="refuse a file larger than this once decompressed, e.g. 500M or 2G (default"
        f" {MAX_BYTES // 2**20}M: about 1.5 GB of memory at most; more bytes need more)",
    )
    imp.set_defaults(run=cmd_import)

    exp = sub.add_parser("export", parents=[common], help=cmd_export.__doc__)
    exp.add_argument("out_dir", help="snapshot folder to create")
    exp.add_argument("--project", help="only this project (default: all)")
    exp.add_argument("--min-judgments", type=int, default=1)
    exp.add_argument("--min-agreement", type=float, default=0.0)
    exp.add_argument("--ties", choices=["drop", "soft"], default="drop")
    exp.add_argument(
        "--posterior",
        action="store_true",
        help="also fit Dawid-Skene and write its posterior as a soft label (column posterior)",
    )
    exp.add_argument("--no-gold", action="store_true", help="leave hidden gold items out")
    exp.add_argument(
        "--with-probes",
        action="store_true",
        help="keep probe pairs (surface edits made to test the raters) in pairs.parquet; they"
        " are left out by default, and probes.parquet names them either way",
    )
    exp.add_argument("--overwrite", action="store_true")
    exp.set_defaults(run=cmd_export)

    proj = sub.add_parser("project", parents=[common], help=cmd_project.__doc__)
    proj.add_argument("project_id")
    proj.add_argument("--name")
    proj.add_argument("--guidelines-file", help="Markdown file with the rater guidelines")
    proj.add_argument("--principles", help="comma-separated list")
    proj.add_argument("--flags", help="comma-separated list")
    proj.add_argument("--overlap-k", type=int, help="judgments wanted per pair")
    proj.add_argument("--gold-rate", type=float, help="share of gold items shown")
    proj.add_argument(
        "--probe-rate",
        type=float,
        help="share of hidden checks of the raters: probe pairs (`probes make`) and retests",
    )
    proj.add_argument(
        "--policy",
        choices=POLICY_NAMES,
        help="how work pairs are ranked: least covered (uniform), split votes first"
        " (disputed), or where a checkpoint's scores doubt the votes (model; see --scores)",
    )
    proj.add_argument(
        "--scores",
        metavar="FILE",
        help="scores.parquet of one checkpoint (`intentgap score`) for the model policy",
    )
    proj.add_argument("--reclaim-minutes", type=int, help="give abandoned pairs away after")
    for flag in (
        "strength_enabled",
        "strength_required",
        "tie_allowed",
        "both_bad_allowed",
        "rationale_required",
    ):
        proj.add_argument(
            "--" + flag.replace("_", "-"), action=argparse.BooleanOptionalAction, default=None
        )
    proj.set_defaults(run=cmd_project)

    raters = sub.add_parser("raters", parents=[common], help=cmd_raters.__doc__)
    raters.add_argument("action", choices=["add", "list", "reset", "deactivate", "activate"])
    raters.add_argument("rater_ids", nargs="*")
    raters.add_argument("--base-url", default=DEFAULT_BASE_URL)
    raters.set_defaults(run=cmd_raters)

    audit = sub.add_parser("audit", parents=[common], help=cmd_audit.__doc__)
    audit.add_argument("--project", help="only this project (default: all)")
    audit.add_argument("--json", action="store_true", help="machine-readable output")
    audit.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples")
    audit.add_argument(
        "--snapshot",
        metavar="DIR",
        help=(
            "audit an exported snapshot (its one project) instead of the database: works"
            " while the app holds the DuckDB file"
        ),
    )
    audit.set_defaults(run=cmd_audit)

    from labeling.rater_probes import PROBE_KINDS

    probes = sub.add_parser("probes", help="probe pairs that test the raters (`probes make`)")
    probes_sub = probes.add_subparsers(dest="probes_command", required=True, metavar="ACTION")
    probes_make = probes_sub.add_parser("make", parents=[common], help=cmd_probes_make.__doc__)
    probes_make.add_argument("--project", required=True, help="project whose pairs to probe")
    probes_make.add_argument(
        "--kinds",
        metavar="KIND,...",
        help=f"comma-separated, of {', '.join(PROBE_KINDS)} (default: all)",
    )
    probes_make.add_argument(
        "--min-votes", type=int, default=3, help="human votes a pair without gold needs"
    )
    probes_make.add_argument(
        "--min-agreement",
        type=float,
        default=0.8,
        help="share of those votes one side needs (ties and 'both bad' count against it)",
    )
    probes_make.add_argument("--seed", type=int, default=0, help="draws the sides")
    probes_make.set_defaults(run=cmd_probes_make)

    for name, text in (
        ("train", "train a reward model on a snapshot (see `intentgap train --help`)"),
        ("score", "score pairs or responses with a reward model"),
        ("inspect", "where a reward model diverges from intent"),
    ):
        module = _DELEGATED[name]
        cmd = sub.add_parser(name, help=text, add_help=False)
        cmd.add_argument("rest", nargs=argparse.REMAINDER)
        cmd.set_defaults(run=_delegate(module))
    return parser


_DELEGATED = {"train": "reward.train", "score": "reward.score", "inspect": "reward.inspection"}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _DELEGATED:
        # The training config dataclass is its own parser, --help included.
        return _delegate(_DELEGATED[argv[0]])(argparse.Namespace(rest=argv[1:]))
    args = make_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (CommandError, WorkspaceLocked, StoreWriteError) as error:
        print(f"intentgap: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a file that cannot be read or written: which, and why
        print(f"intentgap: {_os_error_line(error)}", file=sys.stderr)
        return 2
    except ValueError as error:  # InputError and refused settings are ValueErrors
        print(f"intentgap: {error}", file=sys.stderr)
        return 2


# -- helpers ---------------------------------------------------------------------------------


def _open_store(workspace: Workspace) -> Store:
    """The workspace's store; ``WorkspaceLocked`` or ``StoreWriteError`` (both one line in
    ``main``) when another process holds it or the disk refuses it."""
    return Store(workspace.database)


def _os_error_line(error: OSError) -> str:
    """``PATH: reason`` without Python's ``[Errno n]`` (or the message, when there is no errno)."""
    if error.strerror is None:
        return str(error)
    where = f"{error.filename}: " if error.filename is not None else ""
    return f"{where}{error.strerror}"


def _project_from(settings: dict[str, Any], **extra: Any) -> Project:
    known = {f.name for f in fields(Project)}
    unknown = set(settings) - known
    if unknown:
        raise CommandError(f"unknown project settings: {', '.join(sorted(unknown))}")
    values = {**settings, **extra}
    for name in ("principles", "flags"):
        if name in values:
            values[name] = tuple(values[name])
    return Project(**values)


def _positive_bytes(text: str) -> int:
    """``--max-bytes``: a number of bytes, optionally with K, M or G (powers of 1024)."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    number, unit = text.strip().upper().removesuffix("B"), 1
    if number[-1:] in units:
        number, unit = number[:-1], units[number[-1]]
    try:
        value = int(float(number) * unit)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of bytes (e.g. 500M)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of bytes")
    return value


def _parse_mapping(item: str) -> tuple[str, str]:
    theirs, sep, ours = item.partition("=")
    if not sep or not theirs or not ours:
        raise CommandError(f"--map wants THEIRS=OURS, got {item!r}")
    return theirs, ours


def _jsonable(value: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


if __name__ == "__main__":
    raise SystemExit(main())
