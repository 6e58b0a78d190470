"""``lipsync serve``: keep Open JTalk warm and speak for any engine over WebSocket."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from lipsync.cli.io import err
from lipsync.cli.speech import add_engine_arguments, add_motion_arguments
from lipsync.errors import ValueRefused
from lipsync.live.audio import OUTPUTS
from lipsync.maps.named import load_map

__all__ = ["add_serve_command"]


def _serve(args: argparse.Namespace) -> int:
    from lipsync.cli.signals import interrupt
    from lipsync.cli.speech import engine_from, motion_of
    from lipsync.live.speaker import Speaker
    from lipsync.live.transport import open_transport
    from lipsync.live.transport.vmc import VmcSender, is_vmc_url
    from lipsync.serve.server import Server

    lipmap = load_map(args.map)
    engine = engine_from(args)
    if engine is not None:
        engine.prepare()  # the engine is there, has the speaker, and has loaded its voice
    vmc = VmcSender(args.to) if is_vmc_url(args.to) else None
    if args.to is not None and vmc is None and args.model is None:
        raise ValueRefused("lipsync: --to an agent needs its --model ALIAS")
    transport = (open_transport(args.to, wait=args.wait, model=args.model)
                 if args.to is not None and vmc is None else None)
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        with Speaker(transport, args.model if transport is not None else None, audio=args.audio,
                     lipmap=lipmap, voice=args.voice, latency=args.latency / 1000, sync=args.sync,
                     unknown=args.unknown, fps=args.fps, tts=engine, motion=motion_of(args)) as speaker:
            server = Server(speaker, host=args.host, port=args.port, on_weights=vmc)
            server.start()
            try:
                err(f"lipsync: serving {server.url} (page: http://{server.url.split('/')[2]}/)")
                server.serve_forever()
            finally:
                server.close()
    finally:
        if vmc is not None:
            vmc.close()
    return 0


def add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from lipsync.serve import DEFAULT_PORT

    p = commands.add_parser(
        "serve", help="speak for any engine over WebSocket (JSON), with a preview page",
        description="Keep Open JTalk warm and serve ws://HOST:PORT/lipsync (protocol: "
        "lipsync/serve/schema.json) and the preview page at http://HOST:PORT/. With --to, every "
        "utterance also drives MMDAgent-EX over one connection, or VMC blend shapes (vmc://HOST:PORT).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--to", metavar="URL", help="tcp://HOST:PORT, ws://HOST:PORT/PATH or "
                   "'exec:PATH/MMDAgent-EX main.mdf' (MMDAgent-EX), vmc://HOST:PORT (VMC blend shapes), "
                   "or stdout; default: no agent")
    p.add_argument("--model", metavar="ALIAS", help="the agent's model alias (with an agent --to)")
    p.add_argument("--audio", choices=OUTPUTS, default="miniaudio",
                   help="where \"audio\": \"local\" speech plays (default miniaudio)")
    p.add_argument("--map", metavar="NAME|FILE",
                   help="the default lip map: a named map (vrm0 for VSeeFace over VMC) or a file")
    p.add_argument("--voice", type=Path, metavar="FILE", help="an .htsvoice (default: mei_normal)")
    p.add_argument("--unknown", metavar="PHONEME", help="draw phonemes a map lacks as this one")
    add_motion_arguments(p)
    p.add_argument("--fps", type=float, default=60.0,
                   help="frames a second when a say names none (and for VMC; default 60)")
    p.add_argument("--latency", type=float, default=0.0, metavar="MS", help="shift each START by this much")
    p.add_argument("--sync", choices=("event", "clock"), help="as for say")
    p.add_argument("--wait", type=float, metavar="SECONDS", help="how long to wait for the agent")
    add_engine_arguments(p, settings=False)
    p.set_defaults(handler=_serve)
