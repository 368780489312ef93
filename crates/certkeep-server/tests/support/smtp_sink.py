"""A loopback SMTP server for certkeep's email tests, on Debian's aiosmtpd.

Run with /usr/bin/python3 (pyenv's python3 does not see apt packages):

    smtp_sink.py OUT_DIR [--user NAME --password PW] [--cert PEM --key PEM] [--implicit-tls]

Listens on 127.0.0.1 on a free port and prints "READY <port>" once it accepts connections.
Each accepted message is saved as OUT_DIR/<n>.eml (as received) and OUT_DIR/<n>.json (the
envelope and the message as Python's email parser reads it: headers, and each text part
decoded). Every AUTH attempt appends "<mechanism> <login> <ok|bad>" to OUT_DIR/auth.log; the
password is never written. Recipients starting with "reject" get 550, "busy" get 451.
With --cert/--key the server offers STARTTLS (or, with --implicit-tls, speaks TLS at once).
"""

import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if address.startswith("busy"):
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                parts.append({"content_type": part.get_content_type(), "text": part.get_content()})
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "headers": {k.lower(): str(v) for k, v in msg.items()},
            "content_type": msg.get_content_type(),
            "parts": parts,
        }
        base = os.path.join(self.out, str(self.count))
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        with open(base + ".json.tmp", "w") as f:
            json.dump(record, f)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 2.0.0 Message accepted for delivery"


def authenticator(out, user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?"
        with open(os.path.join(out, "auth.log"), "a") as f:
            f.write("%s %s %s\n" % (mechanism, login, "ok" if ok else "bad"))
        # handled=False: aiosmtpd then answers 535 itself on failure.
        return AuthResult(success=ok, handled=False)

    return check


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--implicit-tls", action="store_true")
    args = p.parse_args()

    tls = None
    if args.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)
    kwargs = {"hostname": "certkeep-test-sink"}
    if args.user:
        # Loopback tests authenticate without TLS on purpose; aiosmtpd warns about that.
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        kwargs.update(
            authenticator=authenticator(args.out, args.user, args.password),
            auth_required=True,
            auth_require_tls=False,
        )
    if tls is not None and not args.implicit_tls:
        kwargs["tls_context"] = tls
    handler = Sink(args.out)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, **kwargs),
        host="127.0.0.1",
        port=0,
        ssl=tls if args.implicit_tls else None,
    )
    port = server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)
    # Exit when the test closes our stdin (or dies), so no server outlives its test.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
