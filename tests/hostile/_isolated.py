"""The child side of an isolated run (`test_corpus.isolated`).

The test process starts a forkserver that imports this module (and with it the checker)
once; every isolated case is a fork of that small, clean server, never of the test process
(which may hold a Go runtime once a Helm chart was rendered in it, and much memory). The
child limits its own address space, optionally drops to uid/gid 65534, runs the command line
with its output in files, records its peak RSS and exits with the CLI's exit code.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import resource
import sys
import tempfile

from checker.cli import main

for _module in ("checker.pipeline", "checker.report", "checker.render.stage"):
    importlib.import_module(_module)  # once in the forkserver, not again in every child


def run(argv: list[str], cwd: str, limit: int, user: str, stdin: bytes | None,
        out_path: str, err_path: str, peak_path: str) -> None:
    os.chdir(cwd)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for fd, path in ((1, out_path), (2, err_path)):
        target = os.open(path, os.O_WRONLY | os.O_TRUNC)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8")
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin or b""), encoding="utf-8")
    if user == "nobody":
        # What a run imports lazily is imported first (the interpreter's library lies under
        # /root, mode 700), by a run on an empty directory; then uid/gid 65534.
        with tempfile.TemporaryDirectory() as empty, \
                contextlib.redirect_stdout(io.StringIO()):
            main(["check", empty, "--format", "json", "--no-bundled-packs", "--no-progress"])
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    code = 2
    try:
        code = main(argv)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # VmHWM: this process's own peak since the fork (ru_maxrss would include the
        # server's); the children it waited for (OPA workers) by their ru_maxrss.
        # (Bytes: after the drop to uid 65534 no codec module can be imported.)
        with open("/proc/self/status", "rb") as status:
            match = re.search(rb"VmHWM:\s+(\d+)", status.read())
        own = int(match.group(1)) if match else 0
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        with open(peak_path, "wb") as out:
            out.write(b"%d" % max(own, children))
        os._exit(code)
