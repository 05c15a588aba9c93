"""``junban users add | reset | unlock``: the operator's account API of a running hub, with an
operator token signed here (like ``junban contracts``). ``add --admin`` makes a clinic admin,
who then manages the facility's other staff on ``/console/{facility}/staff``."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from hub.auth import Tokens, load_secret
from hub.settings import Settings


def add_parser(commands: Any) -> None:
    users = commands.add_parser("users", help="operator: user accounts of a running hub")
    users.add_argument("--url", help="the hub (default http://HOST:PORT from JUNBAN_*)")
    sub = users.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="create a staff user (--admin: a clinic admin)")
    add.add_argument("name")
    add.add_argument("--facility", help="the staff user's facility number")
    add.add_argument("--admin", action="store_true", help="a clinic admin of the facility")
    add.add_argument("--operator", action="store_true", help="an operator user instead")
    add.add_argument("--password", help="default: a random one, printed once")
    sub.add_parser("reset", help="a temporary password, changed at next login").add_argument("name")
    sub.add_parser("unlock", help="forget the user's failed logins").add_argument("name")


def request_of(args: argparse.Namespace) -> tuple[str, dict[str, Any] | None]:
    """(path, body) of one ``junban users`` action (always a POST); ValueError when the
    flags do not fit."""
    if args.action == "add":
        if args.operator and (args.admin or args.facility):
            raise ValueError("an operator user has no --facility and is no --admin")
        if not args.operator and not args.facility:
            raise ValueError("a staff user needs --facility")
        body: dict[str, Any] = {
            "user": args.name,
            "password": args.password or secrets.token_urlsafe(12),
            "role": "operator" if args.operator else "staff",
            "admin": bool(args.admin),
        }
        if args.facility:
            body["facility"] = args.facility
        return "/v1/admin/users", body
    name = urllib.parse.quote(args.name, safe="")
    return f"/v1/admin/users/{name}/{args.action}", None


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        path, body = request_of(args)
    except ValueError as exc:
        print(f"junban users: {exc}", file=sys.stderr)
        return 2
    base = args.url or settings.public_url or f"http://{settings.host}:{settings.port}"
    token = Tokens(load_secret(settings.secret, settings.data_dir)).issue(
        "operator", subject="cli", ttl_s=300
    )
    request = urllib.request.Request(
        base.rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            data, ok = json.loads(answer.read().decode() or "{}"), True
    except urllib.error.HTTPError as exc:
        data, ok = json.loads(exc.read().decode() or "{}"), False
    except OSError as exc:
        print(f"junban users: cannot reach {base}: {exc}", file=sys.stderr)
        return 1
    if ok and body is not None and not args.password:
        data["password"] = body["password"]  # generated here: shown this once
    print(json.dumps(data, ensure_ascii=False, indent=2), file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1
