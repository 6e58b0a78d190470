"""``lipsync serve``: keep Open JTalk warm and speak for any engine over WebSocket.

SIGTERM is how a service manager stops a service: the server stops every client's speech (each
hears ``ended``), sends the agent its LIPSYNC_STOP, drops whoever is left within a second and
exits 0. Ctrl-C (SIGINT) does the same and exits 130, as every command does.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
from pathlib import Path
from types import FrameType

from lipsync.cli.io import err, finite_float
from lipsync.cli.speech import add_engine_arguments, add_motion_arguments
from lipsync.errors import ValueRefused
from lipsync.live.audio import OUTPUTS
from lipsync.maps.named import load_map

__all__ = ["add_serve_command"]


class _Terminated(KeyboardInterrupt):
    """SIGTERM: unwind as an interrupt does (the clean-up is the same), then exit 0."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Terminated


def _serve(args: argparse.Namespace) -> int:
    from lipsync.cli.signals import interrupt

    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a shell's "ignore" stays
        signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        _run(args)
    except _Terminated:
        err("lipsync: stopped (SIGTERM)")
    return 0


def _run(args: argparse.Namespace) -> None:
    from lipsync.live.speaker import Speaker
    from lipsync.live.transport import open_transport
    from lipsync.live.transport.vmc import VmcSender, is_vmc_url
    from lipsync.serve.limits import Limits
    from lipsync.serve.maps import maps_folder
    from lipsync.serve.server import Server

    lipmap = load_map(args.map)
    from lipsync.cli.speech import engine_from, motion_of

    if args.maps_dir is not None:
        maps_folder(args.maps_dir)  # refused before anything opens
    engine = engine_from(args)
    if engine is not None:
        engine.prepare()  # the engine is there, has the speaker, and has loaded its voice
    vmc = VmcSender(args.to) if is_vmc_url(args.to) else None
    if args.to is not None and vmc is None and args.model is None:
        raise ValueRefused("lipsync: --to an agent needs its --model ALIAS")
    transport = (open_transport(args.to, wait=args.wait, model=args.model)
                 if args.to is not None and vmc is None else None)
    try:
        with Speaker(transport, args.model if transport is not None else None, audio=args.audio,
                     lipmap=lipmap, voice=args.voice, speed=args.speed, half_tone=args.half_tone,
                     latency=args.latency / 1000, sync=args.sync,
                     unknown=args.unknown, fps=args.fps, tts=engine, motion=motion_of(args)) as speaker:
            server = Server(speaker, host=args.host, port=args.port, on_weights=vmc, maps_dir=args.maps_dir,
                            limits=Limits(clients=args.max_clients))
            _more_descriptors(args.max_clients)
            try:
                server.start()
                err(f"lipsync: serving {server.url} (page: http://{server.url.split('/')[2]}/)")
                server.serve_forever()
            finally:
                server.close()  # before the speaker's: each client hears its speech ended
    finally:
        if vmc is not None:
            vmc.close()


def _more_descriptors(clients: int) -> None:
    """Raise this process's file descriptor limit (to its hard limit at most) so ``clients``
    fit; the server takes fewer, with a warning, if they still do not."""
    from lipsync.serve.limits import FDS_PER_CLIENT, clients_that_fit
    from lipsync.serve.server import SPARE

    fit = clients_that_fit(SPARE)
    if fit is None or fit >= clients:
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = soft + (clients - fit) * FDS_PER_CLIENT
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if wanted > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _port(text: str) -> int:
    """An argparse ``type``: a TCP port, 0 (any free one) to 65535."""
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= 65535):
        raise argparse.ArgumentTypeError("expected a port from 0 to 65535")
    return int(text)


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and 1 <= int(text) <= 10000):
        raise argparse.ArgumentTypeError("expected a whole number from 1 to 10000")
    return int(text)


def add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from lipsync.serve import DEFAULT_PORT
    from lipsync.serve.limits import Limits

    p = commands.add_parser(
        "serve", help="speak for any engine over WebSocket (JSON), with a preview page",
        description="Keep Open JTalk warm and serve ws://HOST:PORT/lipsync (protocol: "
        "lipsync/serve/schema.json) and the preview page at http://HOST:PORT/. With --to, every "
        "utterance also drives MMDAgent-EX over one connection, or VMC blend shapes (vmc://HOST:PORT).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--to", metavar="URL", help="tcp://HOST:PORT, ws://HOST:PORT/PATH or "
                   "'exec:PATH/MMDAgent-EX main.mdf' (MMDAgent-EX), vmc://HOST:PORT (VMC blend shapes), "
                   "or stdout; default: no agent")
    p.add_argument("--model", metavar="ALIAS", help="the agent's model alias (with an agent --to)")
    p.add_argument("--audio", choices=OUTPUTS, default="miniaudio",
                   help="where \"audio\": \"local\" speech plays (default miniaudio)")
    p.add_argument("--map", metavar="NAME|FILE",
                   help="the default lip map: a named map (vrm0 for VSeeFace over VMC) or a file")
    p.add_argument("--maps-dir", type=Path, metavar="DIR",
                   help="the folder of lip map files clients may name (by a name relative to it); "
                   "without it, clients may name only the named maps")
    p.add_argument("--max-clients", type=_count, default=Limits.clients, metavar="N",
                   help=f"WebSocket clients at once (default {Limits.clients}); more are told the "
                   "server is busy")
    p.add_argument("--voice", type=Path, metavar="FILE", help="an .htsvoice (default: mei_normal)")
    p.add_argument("--speed", type=finite_float(0.1, 10), default=1.0,
                   help="speaking rate, 0.1 to 10 (default 1.0; a --tts engine's too)")
    p.add_argument("--half-tone", type=finite_float(-48, 48), default=0.0, metavar="N",
                   help="Open JTalk's pitch shift in semitones, -48 to 48")
    p.add_argument("--unknown", metavar="PHONEME", help="draw phonemes a map lacks as this one")
    add_motion_arguments(p)
    p.add_argument("--fps", type=finite_float(1, 240), default=60.0,
                   help="frames a second when a say names none (and for VMC; default 60)")
    p.add_argument("--latency", type=finite_float(-10_000, 10_000), default=0.0, metavar="MS",
                   help="shift each START by this much")
    p.add_argument("--sync", choices=("event", "clock"), help="as for say")
    p.add_argument("--wait", type=finite_float(0, 3600), metavar="SECONDS",
                   help="how long to wait for the agent")
    add_engine_arguments(p)
    p.set_defaults(handler=_serve)
