"""The ``ratrack`` command line: a thin typer layer that builds configs and calls the library.

User mistakes (bad paths, malformed files, bad option values) surface as one-line errors on
stderr with a non-zero exit, never as tracebacks.
"""

from __future__ import annotations

import logging
import sys

import typer

from ratrack.cli import attention, bench, data, demo, track, train
from ratrack.cli import eval as eval_cli
from ratrack.cli._common import option_error
from ratrack.errors import ConfigError, RatrackError

app = typer.Typer(
    help="ratrack: a recurrent attention tracker.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(attention.app, name="attention")
app.add_typer(data.app, name="data")
app.add_typer(eval_cli.app, name="eval")
app.add_typer(bench.app, name="bench")
app.command("demo")(demo.demo)
app.command("pretrain")(train.pretrain)
app.command("train")(train.train)
app.command("track")(track.track)


def main() -> None:
    """Entry point: run the app, turning ratrack's user errors into one-line messages."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"error: {option_error(exc)}", err=True)
        sys.exit(2)
    except RatrackError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("\ninterrupted", err=True)  # below any progress bar line
        sys.exit(130)
