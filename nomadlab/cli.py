"""The ``nomadlab`` command, modelled on ``nomad``.

``nomadlab agent -dev`` runs a dev agent (a server and its clients in this process) with
Nomad's HTTP API; every other command talks HTTP to NOMAD_ADDR (default
http://127.0.0.1:4646) and honours NOMAD_TOKEN, NOMAD_NAMESPACE and NOMAD_REGION, so the
same commands work against a real Nomad agent.  Output and exit codes follow ``nomad``.
``nomadlab lab`` opens the guided labs in JupyterLab.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Optional, Sequence

from . import __version__
from .commands import COMMANDS, run
from .commands.base import Parser, UsageError, normalise_flags

__all__ = ["main", "agent_dev", "split_api_flags"]

#: Flags every API command takes, as ``nomad`` does (they override the environment).
API_FLAGS = ("address", "token", "namespace", "region")

USAGE = """Usage: nomadlab [-version] [-help] <command> [args]

Common commands:
    agent -dev     Run a dev agent: a server and its clients in this process, HTTP API on :4646
    job            Interact with jobs ({jobs})
    deployment     Interact with deployments (list, status, promote, fail, pause,
                   resume, unblock)
    eval status    Display evaluation status and placement failures
    alloc          Interact with allocations (status, logs)
    node           Interact with nodes (status, drain, eligibility)
    status         Display the status of a job, allocation, evaluation or node
    lab            Open the guided labs in JupyterLab

API commands read NOMAD_ADDR, NOMAD_TOKEN, NOMAD_NAMESPACE and NOMAD_REGION, or take
-address, -token, -namespace and -region."""


def split_api_flags(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """Take ``-address``/``-token``/``-namespace``/``-region`` out of ``argv``, wherever
    they are (``nomad job status -address=http://... example``)."""
    flags: dict[str, str] = {}
    rest: list[str] = []
    args = normalise_flags(argv)
    i = 0
    while i < len(args):
        name = args[i].lstrip("-") if args[i].startswith("-") else ""
        if name in API_FLAGS and i + 1 < len(args):
            flags[name] = args[i + 1]
            i += 2
            continue
        rest.append(args[i])
        i += 1
    return flags, rest


def _agent_parser() -> Parser:
    p = Parser(prog="nomadlab agent")
    p.add_argument("-dev", dest="dev", action="store_true",
                   help="Dev mode: a server and clients in this process, state in memory "
                        "unless -data-dir")
    p.add_argument("-clients", dest="clients", type=int, default=1, help="How many client nodes")
    p.add_argument("-bind", dest="bind", default="127.0.0.1", help="Address the HTTP API binds")
    p.add_argument("-http-port", dest="http_port", type=int, default=4646, help="HTTP API port")
    p.add_argument("-raw-exec", dest="raw_exec", action="store_true",
                   help="Enable the raw_exec driver (no isolation at all)")
    p.add_argument("-http-allowed-origin", dest="allowed_origins", action="append", default=[],
                   metavar="ORIGIN", help="A web origin (http://host:port) whose pages may "
                   "call the HTTP API; repeatable")
    p.add_argument("-http-allowed-host", dest="allowed_hosts", action="append", default=[],
                   metavar="HOST", help="A Host name the HTTP API answers besides loopback "
                   "names; repeatable")
    p.add_argument("-data-dir", dest="data_dir", default=None,
                   help="Keep the state (fsynced on every write) and the clients' task handles "
                        "here; an agent started again on it restores both")
    return p


def _banner(agent: Any, clients: int, data_dir: Optional[str] = None) -> str:
    addr = agent.http_addr.removeprefix("http://")
    names = ", ".join(n.name for n in agent.nodes())
    rows = [("Advertise Addrs", f"HTTP: {addr}"), ("Bind Addrs", f"HTTP: [{addr}]"),
            ("Client", f"true ({clients} node{'s' if clients != 1 else ''}: {names})"),
            ("Region", "global (DC: dc1)"), ("Server", "true"),
            ("Version", f"nomadlab {__version__}")]
    if data_dir:
        rows.insert(2, ("Data Dir", data_dir))
    where = f"in {data_dir}" if data_dir else "in memory"
    width = max(len(k) for k, _ in rows)
    config = "\n".join(f"{k.rjust(width + 7)}: {v}" for k, v in rows)
    return ("==> No configuration files loaded\n==> Starting Nomad agent (nomadlab dev mode: "
            f"server and clients in this process, state {where})...\n"
            f"==> Nomad agent configuration:\n\n{config}\n\n"
            "==> Nomad agent started! Log data will stream in below:\n")


def agent_dev(argv: list[str], out: Any = None) -> int:
    """``nomadlab agent -dev``: serve until SIGINT or SIGTERM, logging each state change."""
    out = out or sys.stdout
    try:
        opts = _agent_parser().parse_args(normalise_flags(argv))
    except UsageError as err:
        print(f"Error: {err}\n{err.usage}", file=sys.stderr)
        return 1
    if not opts.dev:
        print("nomadlab runs agents in dev mode only: nomadlab agent -dev", file=sys.stderr)
        return 1
    from .agent import dev
    try:
        agent = dev(clients=opts.clients, http=f"{opts.bind}:{opts.http_port}",
                    raw_exec=opts.raw_exec, http_allowed_origins=opts.allowed_origins,
                    http_allowed_hosts=opts.allowed_hosts, data_dir=opts.data_dir)
    except (OSError, ValueError) as err:
        print(f"==> Error starting agent: {err}", file=sys.stderr)
        return 1
    stop = threading.Event()
    caught: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        caught.append("interrupt" if signum == signal.SIGINT else "terminated")
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    unsubscribe = agent.subscribe(lambda events: _log(events, out))
    try:
        out.write(_banner(agent, opts.clients, opts.data_dir))
        out.flush()
        while not stop.wait(0.5):
            pass
        out.write(f"==> Caught signal: {caught[0] if caught else 'interrupt'}\n"
                  "==> Gracefully shutting down agent...\n")
        out.write(_shutdown_note(agent, opts.data_dir))
        out.flush()
    finally:
        unsubscribe()
        # Tasks stay for the next start to re-attach when there is a data dir to do it
        # from (a Nomad client's shutdown); without one they are stopped (dev mode's).
        agent.shutdown(leave_tasks=bool(opts.data_dir))
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0


def _shutdown_note(agent: Any, data_dir: Optional[str]) -> str:
    """What shutting down does to the tasks, said before it is done."""
    running = sum(1 for a in agent.allocs() if a.client_status == "running")
    if data_dir:
        return (f"==> Leaving {running} running allocation(s) and their tasks and containers "
                f"running: the next agent started with -data-dir {data_dir} re-attaches "
                "to them\n")
    return (f"==> Stopping {running} running allocation(s) and their tasks and containers: "
            "without -data-dir there is nothing to re-attach from\n")


def _log(events: list[Any], out: Any) -> None:
    """One ``[INFO]`` line per committed change, like the agent's log at info level."""
    from .commands.monitor import timestamp
    for e in events:
        status = getattr(e.payload, "client_status", None) or getattr(e.payload, "status", "")
        out.write(f"    {timestamp()} [INFO] {e.topic.lower()}: {e.type}: "
                  f"{e.key[:36]}{f' status={status}' if status else ''} index={e.index}\n")
    out.flush()


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "-help", "--help", "help"):
        print(USAGE.format(jobs=", ".join(c.split()[1] for c in COMMANDS if c.startswith("job "))),
              file=sys.stdout if args else sys.stderr)
        return 0 if args else 1
    if args[0] in ("-v", "-version", "--version", "version"):
        print(f"nomadlab v{__version__}")
        return 0
    if args[0] == "agent":
        return agent_dev(args[1:])
    if args[0] == "lab":
        from .notebook.launch import main as lab_main
        return int(lab_main(args[1:]))
    flags, rest = split_api_flags(args)
    from .api.remote import connect
    with connect(flags.get("address"), token=flags.get("token"),
                 namespace=flags.get("namespace"), region=flags.get("region")) as remote:
        stdin = sys.stdin.read() if _reads_stdin(rest) else None
        return run(remote, rest, stdin=stdin, out=sys.stdout, err=sys.stderr)


def _reads_stdin(argv: list[str]) -> bool:
    """``-`` as the job file: only then is standard input read (never for a terminal)."""
    return len(argv) >= 2 and argv[0] == "job" and argv[-1] == "-" and not sys.stdin.isatty()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
