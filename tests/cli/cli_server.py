"""Runs ``ratrack`` commands for tests/cli/test_reliability.py, each in its own process.

Started once per test module as a subprocess. It imports the heavy libraries (torch, OpenCV,
SciPy) once, then for every request read from stdin, one JSON object per line:

    {"argv": ["track", ...], "cwd": "/tmp/...", "out": "stdout.txt", "err": "stderr.txt"}

it forks a child that runs the real command-line entry point (``ratrack.cli.main``, what the
``ratrack`` script runs) with that argv, stdout and stderr going to the two files. It answers
``{"pid": PID}`` at once (so a test can signal the child) and ``{"rc": CODE}`` when the child
ends: its exit status, or ``-N`` when signal N killed it. Each command so runs in a fresh
process (nothing carries over between commands) without paying for the imports every time.
"""

from __future__ import annotations

import json
import os
import signal
import sys


def _preload() -> None:
    import cv2  # noqa: F401
    import numpy  # noqa: F401
    import scipy.optimize  # noqa: F401
    import torch

    import ratrack.cli
    import ratrack.data.export
    import ratrack.track.run
    import ratrack.train.tracker  # noqa: F401
    from ratrack.data.mnist import load_embedded_digits

    torch.set_num_threads(1)
    load_embedded_digits()  # parsed once (seconds), inherited by every command's process


def _child(request: dict) -> None:
    os.chdir(request["cwd"])
    out = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(request["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(out, 1)
    os.dup2(err, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.argv = ["ratrack", *request["argv"]]
    code = 0
    try:
        from ratrack.cli import main

        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # an uncaught error: print it as Python would, exit 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def serve() -> None:
    _preload()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                _child(request)
            finally:
                os._exit(1)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        rc = os.waitstatus_to_exitcode(status)
        print(json.dumps({"rc": rc}), flush=True)


if __name__ == "__main__":
    serve()
