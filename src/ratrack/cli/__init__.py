"""The ``ratrack`` command line: a thin typer layer that builds configs and calls the library.

User mistakes (bad paths, malformed files, bad option values) surface as one-line errors on
stderr with a non-zero exit (2), never as tracebacks: :func:`main` is the one place that turns
ratrack's errors, the command-line parser's and the operating system's into such lines, and
config field names into the options that set them (:data:`ratrack.cli._common.OPTIONS`).
SIGINT (Ctrl-C) and SIGTERM stop a run the same way: the frame or step under way finishes, what
is done is kept, and the exit status is 130 or 143.
"""

from __future__ import annotations

import logging
import sys

import typer

from ratrack.cli import attention, bench, data, demo, track, train
from ratrack.cli import eval as eval_cli
from ratrack.cli._common import user_message
from ratrack.errors import RatrackError
from ratrack.outputs import Interrupted, raise_on_sigterm

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


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run a command, turning every user error into one line (module docstring)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    raise_on_sigterm()
    command = typer.main.get_command(app)
    try:
        with command.make_context("ratrack", list(sys.argv[1:] if argv is None else argv)) as ctx:
            command.invoke(ctx)
        sys.exit(0)
    except typer.Exit as exc:  # --help, or a command's own exit
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail("aborted", 1)
    except typer.TyperException as exc:  # the parser: unknown option, value of the wrong type
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # type: ignore[attr-defined]
            sys.exit(2)
        _fail(" ".join(exc.format_message().split()), getattr(exc, "exit_code", 2))  # type: ignore[attr-defined]
    except RatrackError as exc:
        _fail(user_message(exc))
    except Interrupted as exc:
        typer.echo(f"\n{exc.message}", err=True)  # below any progress bar line
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("\ninterrupted", err=True)
        sys.exit(130)
    except MemoryError:
        _fail("out of memory; try smaller sizes or fewer objects", 1)
    except OSError as exc:  # the system refused: disk full, permission, device gone
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}", 1)
