"""`lens-tui serve`: the dashboard in a browser tab, through textual-serve.

Each browser tab that connects gets its own dashboard process on the same database (read-only,
like every dashboard). Loopback by default; bound elsewhere, anyone who reaches the port sees the
traces, so the command warns, and `--token` makes every request prove it knows a secret: the
page is opened as `/?token=SECRET`, which sets a cookie that the websocket and static files are
then checked against.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import shlex
import sys
from pathlib import Path
from typing import Any

COOKIE = "lens_tui_token"
LOOPBACK_NAMES = ("localhost", "ip6-localhost")


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dashboard_command(db: Path) -> str:
    """The shell command each browser session runs: this interpreter, this package, this file."""
    return f"{shlex.quote(sys.executable)} -m lens_tui {shlex.quote(str(db.resolve()))}"


def token_ok(expected: str, given: str | None) -> bool:
    """Constant-time comparison, so the token cannot be guessed a character at a time."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def make_server(db: Path, host: str, port: int, token: str | None) -> Any:
    """A textual-serve `Server` for the dashboard on `db`, with the token check when asked."""
    from aiohttp import web
    from textual_serve.server import Server

    class DashboardServer(Server):  # type: ignore[misc]
        """textual-serve's server with an optional token in front of every route."""

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            if token is not None:
                app.middlewares.append(_require_token)
            return app

    @web.middleware
    async def _require_token(request: web.Request, handler: Any) -> web.StreamResponse:
        given = request.query.get("token")
        if token_ok(token, given):
            response = await handler(request)
            if not request.path.startswith("/ws"):
                response.set_cookie(COOKIE, given, httponly=True, samesite="Strict")
            return response
        if token_ok(token, request.cookies.get(COOKIE)):
            return await handler(request)
        raise web.HTTPUnauthorized(text="lens-tui serve: open the address with ?token=...\n")

    return DashboardServer(dashboard_command(db), host=host, port=port, title=f"lens-tui {db.name}")


def build_parser(parser_class: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """The `lens-tui serve` arguments, on the command line's one-line-error parser class."""
    parser = parser_class(
        prog="lens-tui serve",
        description="Serve the live dashboard to a web browser (each tab runs its own dashboard "
        "on DB). Loopback only unless --host says otherwise; use --token when it does.",
    )
    parser.add_argument(
        "db",
        nargs="?",
        type=Path,
        default=None,
        help="trace database (default: $LENS_DB or ./traces.db)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--token",
        default=None,
        help="require this secret: open http://HOST:PORT/?token=SECRET "
        "(default: $LENS_SERVE_TOKEN if set)",
    )
    return parser


def run(db: Path, host: str, port: int, token: str | None) -> int:
    """Serve until Ctrl+C or SIGTERM."""
    if not is_loopback(host):
        print(
            f"lens-tui serve: warning: listening on {host}: anyone who can reach port {port} "
            "sees these traces" + ("" if token else "; add --token SECRET to require a secret"),
            file=sys.stderr,
        )
    server = make_server(db, host, port, token)
    query = "?token=…" if token else ""
    print(f"lens-tui serve: {db} on http://{host}:{port}/{query}", file=sys.stderr)
    server.serve()
    return 0
