"""The `tanktop` command: serve, worker, migrate and key management.

A domain error (`AppError`: no such service, a bad name) and a database that cannot do the work
(`DatabaseFault`: unreachable, starting, locked) are printed as one line on standard error and
the command exits with status 1; a traceback means a bug."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging.config
import os
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

    from tanktop.catalog.importer import ImportReport
    from tanktop.console.demo import DemoReport
    from tanktop.db import Database
    from tanktop.recommendations import tuning
    from tanktop.recommendations.schemas import RecommenderVersion
    from tanktop.tenants.service import Service

# Each command imports the project modules and libraries it uses when it runs, not here:
# `tanktop keys list` need not load the web app, the console or scipy, nor `--help` the
# database (tests/platform/test_cli_imports.py keeps it so).


class _Cli(typer.Typer):
    """The `tanktop` command, ending what an operator can fix as one `error:` line and status
    1: a domain error, a configuration the environment got wrong, a file it cannot read or
    write. Anything else is a bug and keeps its traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            message = _operator_error(exc)
            if message is None:
                raise
        typer.echo(f"error: {message}", err=True)
        sys.exit(1)


def _operator_error(exc: Exception) -> str | None:
    """The `error:` line for what an operator can fix; None for a bug. (Imported here: an
    `AppError` or a `ValidationError` was raised by code that had imported them already.)"""
    from pydantic import ValidationError

    from tanktop.config import Settings
    from tanktop.errors import AppError

    if isinstance(exc, AppError):
        return exc.detail
    if isinstance(exc, ValidationError):
        if exc.title != Settings.__name__:
            return None
        return f"invalid configuration: {describe_settings_errors(exc)}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
    return None


def describe_settings_errors(exc: ValidationError) -> str:
    """`TANKTOP_<NAME>: what is wrong` for each setting the environment got wrong."""
    return "; ".join(
        f"TANKTOP_{'.'.join(map(str, e['loc'])).upper()}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


app = _Cli(help="Tank Top: personal features for TV and movie apps.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage services and their API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
catalog_app = typer.Typer(help="Load the shared catalog.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
recs_app = typer.Typer(help="Recommendation models.", no_args_is_help=True)
app.add_typer(recs_app, name="recs")
oauth_app = typer.Typer(help="Let third-party apps reach a service's users.", no_args_is_help=True)
app.add_typer(oauth_app, name="oauth")
clients_app = typer.Typer(help="The apps registered with a service.", no_args_is_help=True)
oauth_app.add_typer(clients_app, name="clients")
analytics_app = typer.Typer(help="Analytics rollups.", no_args_is_help=True)
app.add_typer(analytics_app, name="analytics")

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    """End the command with `message` as one line on standard error and status 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _with_db(action: Callable[[Database], Awaitable[T]], *, migrate: bool = True) -> T:
    """Run `action` against the configured database (migrated first), then close it; a
    domain error ends the command as one line."""
    from tanktop import faults, migrations
    from tanktop.config import Settings
    from tanktop.db import Database
    from tanktop.errors import AppError

    settings = Settings()

    async def main() -> T:
        db = Database(settings.database_url, pool_size=2)
        try:
            if migrate:
                await migrations.upgrade_if_behind(db)
            return await action(db)
        finally:
            await db.dispose()

    try:
        with _fault_log_quiet():
            return asyncio.run(main())
    except AppError as exc:
        fail(exc.detail)
    except faults.DatabaseFault as exc:
        cause = f": {faults.describe(exc.__cause__)}" if exc.__cause__ else ""
        done = "it may or may not have been applied" if exc.committing else "nothing was changed"
        fail(f"the database is unavailable ({exc.kind}{cause}); {done}")


@contextmanager
def _fault_log_quiet() -> Iterator[None]:
    """A command says what a database fault was in its error line: the servers' fault log
    (with its traceback) would only repeat it."""
    from tanktop import faults

    logger = logging.getLogger(faults.log.name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="API processes (PostgreSQL for more than 1).")] = 1,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the background worker here.")
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Proxies (comma-separated addresses) whose X-Forwarded-For names the client."
        ),
    ] = None,
) -> None:
    """Run the API (and, unless --no-worker, the background worker) on HOST:PORT."""
    import uvicorn

    from tanktop.config import Settings
    from tanktop.logs import logging_config

    if Settings().oauth_dev_login and host not in LOOPBACK_HOSTS:
        typer.echo(
            "error: TANKTOP_OAUTH_DEV_LOGIN lets anyone sign in as anyone: loopback hosts only "
            f"(not {host})",
            err=True,
        )
        raise typer.Exit(2)
    if no_worker:
        os.environ["TANKTOP_RUN_WORKER"] = "0"
    _with_db(lambda db: asyncio.sleep(0))  # migrate once, before any process starts
    os.environ["TANKTOP_MIGRATE_ON_START"] = "0"
    # Every process of this server signs console sessions with the same secret.
    os.environ.setdefault("TANKTOP_CONSOLE_SECRET", secrets.token_urlsafe(32))
    typer.echo(f"Tank Top on http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    typer.echo(f"Console: http://{host}:{port}/console/  (sign in with an API key)")
    uvicorn.run(
        "tanktop.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config(fmt=Settings().log_format),
        access_log=Settings().access_log,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        # A worker importing the app on a busy host can take longer than uvicorn's default 5 s
        # to answer its first health check; it was then killed and started again, over and over.
        timeout_worker_healthcheck=30,
    )


@app.command()
def worker() -> None:
    """Run only the background worker (deliveries, retraining, live sessions) until SIGTERM."""
    from tanktop.app import worker_tasks
    from tanktop.config import Settings
    from tanktop.logs import logging_config
    from tanktop.worker import run_worker

    settings = Settings()
    logging.config.dictConfig(logging_config(fmt=settings.log_format))

    async def main(db: Database) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(
            db, settings, stop, worker_tasks(), idle_seconds=settings.worker_idle_seconds
        )

    _with_db(main)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from tanktop import migrations

    async def main(db: Database) -> str | None:
        await migrations.upgrade(db)
        return await migrations.current_revision(db)

    typer.echo(f"database at revision {_with_db(main, migrate=False)}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Service name; a new key for an existing service.")],
    webhook_url: Annotated[
        str | None, typer.Option(help="Default webhook URL for notification requests.")
    ] = None,
) -> None:
    """Create a service (or add a key to it) and print the new API key as the last line."""
    from tanktop.tenants import service as tenants

    key = _with_db(lambda db: tenants.create_key(db, name=name, webhook_url=webhook_url))
    typer.echo(f"API key for service {name!r} (shown once; store it safely):", err=True)
    typer.echo(key)


@keys_app.command("list")
def keys_list() -> None:
    """List services and their keys (labels only: keys are stored hashed)."""
    from tanktop.tenants import service as tenants

    for info in _with_db(tenants.list_keys):
        state = "revoked" if info.revoked else "active"
        typer.echo(f"{info.service}\t{info.label}\t{info.created_at.isoformat()}\t{state}")


@keys_app.command("webhook")
def keys_webhook(
    name: Annotated[str, typer.Argument(help="Service name.")],
    url: Annotated[str, typer.Argument(help="Default webhook URL; empty to remove it.")],
) -> None:
    """Set the service's default webhook URL (used when a request gives none)."""
    from tanktop.tenants import service as tenants

    _with_db(lambda db: tenants.set_webhook_url(db, name=name, url=url or None))
    typer.echo(f"default webhook URL of {name!r}: {url or '(none)'}")


@keys_app.command("secret")
def keys_secret(name: Annotated[str, typer.Argument(help="Service name.")]) -> None:
    """Print the service's webhook signing secrets still valid (newest first)."""
    from tanktop.tenants import service as tenants

    for secret in _with_db(lambda db: tenants.show_secrets(db, name=name)):
        typer.echo(secret)


@keys_app.command("rotate-secret")
def keys_rotate_secret(
    name: Annotated[str, typer.Argument(help="Service name.")],
    overlap_hours: Annotated[float, typer.Option(help="How long the old secret stays valid.")] = 24,
) -> None:
    """Create a new signing secret; webhooks carry both signatures until the old one expires."""
    from tanktop.tenants import service as tenants

    overlap = dt.timedelta(hours=overlap_hours)
    typer.echo(_with_db(lambda db: tenants.rotate_secret(db, name=name, overlap=overlap)))


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="The whole API key.")]) -> None:
    """Revoke a key: requests with it get 401 from then on."""
    from tanktop.redaction import key_label
    from tanktop.tenants import service as tenants

    if not _with_db(lambda db: tenants.revoke_key(db, key=key)):
        fail(f"no active key {key_label(key)}")
    typer.echo(f"revoked {key_label(key)}")


def _print_report(report: ImportReport) -> None:
    typer.echo(
        f"{report.lines} lines: {report.items} items ({report.created} new), "
        f"{report.changes} offer/schedule changes, {len(report.rejected)} rejected"
    )
    for number, reason in sorted(report.rejected)[:50]:
        typer.echo(f"  line {number}: {reason}", err=True)
    if len(report.rejected) > 50:
        typer.echo(f"  … and {len(report.rejected) - 50} more", err=True)


@catalog_app.command("import")
def catalog_import(
    file: Annotated[str, typer.Argument(help="JSON Lines file, or - for standard input.")],
) -> None:
    """Import catalog items, offers and schedules; bad lines are reported, good ones kept."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from tanktop.catalog.importer import import_lines

    try:
        stream = sys.stdin if file == "-" else open(file, encoding="utf-8")  # noqa: SIM115
        total = None if file == "-" else os.path.getsize(file)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    with (
        stream,
        Progress(
            TextColumn("importing"),
            BarColumn(),
            TaskProgressColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        ) as progress,
    ):
        task = progress.add_task("import", total=total)

        def advance(line: str) -> None:
            progress.advance(task, len(line.encode()))

        report = _with_db(lambda db: import_lines(db, stream, advance))
    _print_report(report)
    if report.rejected:
        raise typer.Exit(1)


@catalog_app.command("demo")
def catalog_demo() -> None:
    """Load the demo catalog (300 movies, programmes, 3 channels with today's schedule) if empty."""
    from tanktop.catalog import admin as catalog_admin
    from tanktop.catalog.demo import load_demo

    async def main(db: Database) -> ImportReport | None:
        return await load_demo(db) if await catalog_admin.is_empty(db) else None

    report = _with_db(main)
    if report is None:
        typer.echo("catalog not empty: demo not loaded")
    else:
        _print_report(report)


@app.command()
def demo(
    service: Annotated[str, typer.Argument(help="The service to fill.")] = "demo",
) -> None:
    """Give a service with no events demo users: profiles, a month of history on the demo
    catalog, notification requests with their webhook log, and a trained model; and one with
    no sections example sections (a home page for `GET /sections/<userid>/`)."""
    from tanktop.app import worker_tasks
    from tanktop.catalog import admin as catalog_admin
    from tanktop.catalog.demo import load_demo
    from tanktop.config import Settings
    from tanktop.console.demo import load_demo_users
    from tanktop.errors import NotFound
    from tanktop.sections.demo import define_examples
    from tanktop.tenants import service as tenants

    async def main(db: Database) -> tuple[DemoReport | None, int]:
        if await catalog_admin.is_empty(db):
            await load_demo(db)
        found = next((s for s in await tenants.list_services(db) if s.name == service), None)
        if found is None:
            raise NotFound(f"no service named {service!r} (tanktop keys create it)")
        report = await load_demo_users(db, found, Settings(), worker_tasks())
        return report, await define_examples(db, found)

    report, sections = _with_db(main)
    if sections:
        typer.echo(f"{service}: {sections} example sections (GET /section/, GET /sections/7/)")
    if report is None:
        typer.echo(f"{service} already has events: no demo users added")
        return
    typer.echo(
        f"{service}: {report.users} demo users, {report.events} events, "
        f"{report.requests} notification requests (webhooks: "
        + ", ".join(f"{n} {state}" for state, n in sorted(report.deliveries.items()))
        + f"), model version {report.model_version}"
    )


@recs_app.command("train")
def recs_train(
    service: Annotated[str | None, typer.Option(help="Only this service (default: all).")] = None,
) -> None:
    """Train a new model version per service from its event history (API processes pick it up)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    from tanktop.errors import NotFound
    from tanktop.recommendations import service as recs_service
    from tanktop.tenants import service as tenants

    async def main(db: Database) -> list[tuple[str, int]]:
        chosen = [s for s in await tenants.list_services(db) if service in (None, s.name)]
        if service is not None and not chosen:
            raise NotFound(f"no service named {service!r}")
        trained = []
        with Progress(
            TextColumn("training {task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            console=Console(stderr=True),
        ) as progress:
            task = progress.add_task("", total=len(chosen))
            for entry in chosen:
                progress.update(task, description=entry.name)
                trained.append((entry.name, await recs_service.train_service(db, entry.id)))
                progress.advance(task)
        return trained

    for name, version in _with_db(main):
        typer.echo(f"{name}: model version {version}")


@recs_app.command("settings")
def recs_settings_command(
    service: Annotated[str, typer.Argument(help="Service name.")],
    versions: Annotated[bool, typer.Option(help="List every stored version.")] = False,
    restore: Annotated[
        int | None, typer.Option(help="Store this earlier version again as the newest.")
    ] = None,
) -> None:
    """The service's recommender settings in use (weights, rating scale, model params)."""
    from tanktop.errors import NotFound
    from tanktop.recommendations import settings as recs_settings
    from tanktop.recommendations.schemas import RecommenderVersions
    from tanktop.tenants import service as tenants

    async def main(db: Database) -> BaseModel:
        found = await tenants.service_by_name(db, name=service)
        if found is None:
            raise NotFound(f"no service named {service!r}")
        if restore is not None:
            return await recs_settings.restore_settings(db, found, version=restore)
        if versions:
            return RecommenderVersions(versions=await recs_settings.settings_versions(db, found))
        return await recs_settings.current_settings(db, found.id)

    typer.echo(_with_db(main).model_dump_json(indent=2))


@contextmanager
def _trials_progress(trials: int) -> Iterator[Callable[[int, float], None]]:
    """A progress bar over the search's trials, showing the best score so far."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("tuning"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} trials, best NDCG@10 {task.fields[best]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as progress:
        task = progress.add_task("", total=trials, best="-")
        yield lambda done, best: progress.update(task, completed=done, best=f"{best:.4f}")


def _report(result: tuning.Tuned, current: RecommenderVersion, plot_to: Path | None) -> None:
    from tanktop.recommendations import tuning

    for line in [*tuning.table(result), "", "tuned version changes:"]:
        typer.echo(line)
    for line in tuning.changes(current, result.version) or ["nothing"]:
        typer.echo(f"  {line}")
    if plot_to is not None:
        tuning.plot_history(result.study, plot_to)
        typer.echo(f"optimisation history written to {plot_to}")


@recs_app.command("tune")
def recs_tune(
    service: Annotated[str, typer.Option(help="Service name.")],
    trials: Annotated[int, typer.Option(min=1, help="Versions the search tries.")] = 50,
    apply: Annotated[
        bool, typer.Option(help="Store the tuned version as the newest and retrain.")
    ] = False,
    plot_to: Annotated[
        Path | None, typer.Option("--plot", help="Draw the optimisation history to this PNG.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the search and the bootstrap.")] = 1,
) -> None:
    """Search the service's event weights and model parameters on a time-ordered holdout of
    its own history; print tuned against current (NDCG, recall, coverage at 10)."""
    from tanktop.errors import NotFound
    from tanktop.recommendations import service as recs_service
    from tanktop.recommendations import settings as recs_settings
    from tanktop.recommendations import stored as recs_stored
    from tanktop.recommendations import tuning
    from tanktop.tenants import service as tenants

    async def main(db: Database) -> tuple[tuning.Tuned, RecommenderVersion, str]:
        found = await tenants.service_by_name(db, name=service)
        if found is None:
            raise NotFound(f"no service named {service!r}")
        current = await recs_settings.current_settings(db, found.id)
        history, programmes, genres, years = await tuning.service_history(db, found.id)
        with _trials_progress(trials) as on_trial:
            result = await asyncio.to_thread(
                tuning.tune,
                history,
                current,
                programmes,
                trials=trials,
                seed=seed,
                on_trial=on_trial,
                genres=genres,
                years=years,
            )
        applied, applied_version = "", None
        if apply:
            stored = await recs_settings.store_settings(
                db, found, weights=result.version.weights, params=result.version.params
            )
            applied_version = stored.version
            model = await recs_service.train_service(db, found.id)
            applied = f"stored as settings version {stored.version}; model version {model}"
        await recs_stored.save_tuning_report(
            db,
            found.id,
            trials=trials,
            measured=tuning.report(result, current),
            applied_version=applied_version,
        )
        return result, current, applied

    result, current, applied = _with_db(main)
    _report(result, current, plot_to)
    if applied:
        typer.echo(applied)


@analytics_app.command("rebuild")
def analytics_rebuild(
    service: Annotated[str | None, typer.Option(help="Only this service (default: all).")] = None,
) -> None:
    """Recount analytics from the event history (workers pause their rollups meanwhile)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from tanktop.analytics import rollup
    from tanktop.errors import NotFound
    from tanktop.events import service as events_service
    from tanktop.tenants import service as tenants

    async def main(db: Database) -> int:
        chosen = [s for s in await tenants.list_services(db) if service in (None, s.name)]
        if service is not None and not chosen:
            raise NotFound(f"no service named {service!r}")
        total = sum([await events_service.count_history(db, s.id) for s in chosen])
        with Progress(
            TextColumn("rebuilding analytics"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.completed:,.0f} of {task.total:,.0f} events"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        ) as progress:
            task = progress.add_task("", total=total)
            return await rollup.rebuild(
                db, [s.id for s in chosen], lambda n: progress.advance(task, n)
            )

    read = _with_db(main)
    typer.echo(f"analytics rebuilt from {read:,} events")


def _service_id(services: list[Service], name: str) -> int:
    from tanktop.errors import NotFound

    found = next((s for s in services if s.name == name), None)
    if found is None:
        raise NotFound(f"no service named {name!r}")
    return found.id


@analytics_app.command("zones")
def analytics_zones(
    service: Annotated[str, typer.Option(help="The service.")],
    add: Annotated[
        list[str] | None, typer.Option(help="Keep this zone's local days (IANA name).")
    ] = None,
    remove: Annotated[list[str] | None, typer.Option(help="Stop keeping this zone.")] = None,
) -> None:
    """List, add or remove a service's report zones: time zones whose local days are kept as
    rollup rows, so analytics by day in that zone read one row a day (an added zone's rows are
    built from the hour rows first; workers pause their rollups meanwhile)."""
    from tanktop.analytics import zones as analytics_zones_service
    from tanktop.tenants import service as tenants

    async def main(db: Database) -> list[str]:
        service_id = _service_id(await tenants.list_services(db), service)
        for name in add or []:
            await analytics_zones_service.add(db, service_id, zone=name)
        for name in remove or []:
            await analytics_zones_service.remove(db, service_id, zone=name)
        return await analytics_zones_service.zones_of(db, service_id)

    kept = _with_db(main)
    typer.echo(f"report zones of {service}: {', '.join(kept) or 'none (UTC days only)'}")


@recs_app.command("evaluate")
def recs_evaluate(
    ratings: Annotated[Path, typer.Option(help="CSV user,item,rating,timestamp (header row).")],
    items: Annotated[Path, typer.Option(help="CSV item,title,genres (header row).")],
    split: Annotated[
        str,
        typer.Option(
            help="80/20: random, temporal (each user's latest 20%) or global (the latest 20%)."
        ),
    ] = "random",
    seed: Annotated[int, typer.Option(help="Seed of the split and of ALS.")] = 1,
    plot_to: Annotated[
        Path | None, typer.Option("--plot", help="Also draw the figures to this PNG.")
    ] = None,
    tune: Annotated[
        bool,
        typer.Option(
            "--tune", help="Instead: tuned against default settings, as `recs tune` shows."
        ),
    ] = False,
    trials: Annotated[int, typer.Option(min=1, help="With --tune: versions tried.")] = 50,
) -> None:
    """Served recommender vs popularity, EASE and ALS at 10 on the same split."""
    from tanktop.recommendations import settings as recs_settings
    from tanktop.recommendations import tuning
    from tanktop.recommendations.evaluate import (
        HEADER,
        SPLITS,
        evaluate,
        gain,
        item_genres,
        item_years,
        plot,
        read_items,
        read_ratings,
    )

    if split not in SPLITS:
        raise typer.BadParameter(f"--split is one of {', '.join(SPLITS)}")
    if tune:
        history = tuning.ratings_history(read_ratings(ratings))
        catalog_items = read_items(items)
        with _trials_progress(trials) as on_trial:
            tuned = tuning.tune(
                history,
                recs_settings.DEFAULT,
                {},
                trials=trials,
                seed=seed,
                on_trial=on_trial,
                genres=item_genres(catalog_items),
                years=item_years(catalog_items),
            )
        _report(tuned, recs_settings.DEFAULT, plot_to)
        return
    results = asyncio.run(evaluate(ratings, items, split, seed))
    typer.echo(HEADER)
    for result in results:
        typer.echo(result.row())
    served, ease = results[0], next(r for r in results if r.name.startswith("EASE"))
    typer.echo(f"served against tuned EASE: {gain(served, ease, seed)}")
    if plot_to is not None:
        plot(results, plot_to)
        typer.echo(f"plot written to {plot_to}")


@oauth_app.command("enable")
def oauth_enable(
    service: Annotated[str, typer.Argument(help="Service name (tanktop keys create).")],
    login_url: Annotated[
        str, typer.Option(help="Your sign-in and consent page; it gets ?request=<id>.")
    ],
    verification_url: Annotated[
        str | None,
        typer.Option(help="Where users enter a TV's code (default: the login URL)."),
    ] = None,
) -> None:
    """Run an authorization server for SERVICE at /oauth/SERVICE/ (again: change its pages)."""
    from tanktop.oauth import service as oauth_service

    _with_db(
        lambda db: oauth_service.enable(
            db, name=service, login_url=login_url, verification_url=verification_url
        )
    )
    typer.echo(f"OAuth enabled for {service!r}: /oauth/{service}/ (login page {login_url})")


@clients_app.command("create")
def oauth_clients_create(
    service: Annotated[str, typer.Argument(help="Service name.")],
    name: Annotated[str, typer.Option(help="The app's name, shown to users.")],
    redirect_uri: Annotated[
        list[str], typer.Option(help="Exact redirect URI (repeat for several).")
    ] = [],  # noqa: B006 - typer copies defaults
    public: Annotated[
        bool, typer.Option("--public", help="No secret (TV, mobile, single-page apps): PKCE.")
    ] = False,
    scope: Annotated[list[str], typer.Option(help="Allowed scope (repeat; default: all).")] = [],  # noqa: B006
    rate_limit: Annotated[
        int | None,
        typer.Option(help="Its requests per window on /api/1/me/ (TANKTOP_OAUTH_RATE_LIMIT)."),
    ] = None,
) -> None:
    """Register an app; prints its client_id (and client_secret, shown once, if confidential)."""
    from tanktop.oauth import service as oauth_service

    created = _with_db(
        lambda db: oauth_service.create_client(
            db,
            service_name=service,
            name=name,
            redirect_uris=redirect_uri,
            public=public,
            scopes=scope,
            rate_limit=rate_limit,
        )
    )
    typer.echo(f"client_id: {created.client_id}")
    if created.client_secret is not None:
        typer.echo(f"client_secret: {created.client_secret}  (shown once; store it safely)")


@clients_app.command("list")
def oauth_clients_list(service: Annotated[str, typer.Argument(help="Service name.")]) -> None:
    """The service's apps: client_id, name, kind, scopes, redirect URIs, state."""
    from tanktop.oauth import service as oauth_service

    for c in _with_db(lambda db: oauth_service.list_clients(db, service_name=service)):
        kind = "public" if c.public else "confidential"
        state = "revoked" if c.revoked else "active"
        uris = " ".join(c.redirect_uris) or "-"
        typer.echo(f"{c.client_id}\t{c.name}\t{kind}\t{c.scope}\t{uris}\t{state}")


@clients_app.command("revoke")
def oauth_clients_revoke(
    service: Annotated[str, typer.Argument(help="Service name.")],
    client_id: Annotated[str, typer.Argument(help="The app's client_id.")],
) -> None:
    """Revoke an app: its tokens stop working at once."""
    from tanktop.oauth import service as oauth_service

    _with_db(lambda db: oauth_service.revoke_client(db, service_name=service, client_id=client_id))
    typer.echo(f"revoked {client_id}")
