#!/usr/bin/env python3
"""A real SMTP server for the e-mail sink tests (aiosmtpd), on loopback.

--mode starttls: plain listener, STARTTLS and AUTH (PLAIN/LOGIN) required.
--mode tls:      implicit TLS from the first byte (SMTPS), AUTH required.
--mode plain:    no TLS, no AUTH.

Every accepted message is written to OUT/N.eml, its envelope to OUT/N.json.
RCPT nobody@… gets 550 (permanent), busy@… gets 451 (transient).
Prints READY once listening; runs until killed.
"""
import argparse
import email
import email.policy
import json
import logging
import os
import ssl
import sys
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Handler:
    def __init__(self, out):
        self.out = out
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        if address.startswith("busy@"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.out, str(self.n))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        # The parsed view, written first: the .eml appearing means both are complete.
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        parts = [{"type": part.get_content_type(), "text": part.get_content()}
                 for part in msg.walk() if not part.is_multipart()]
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
                       "auth": session.authenticated,
                       "subject": str(msg["subject"]), "message_id": str(msg["message-id"]),
                       "from": str(msg["from"]), "to": str(msg["to"]),
                       "content_type": msg.get_content_type(), "parts": parts}, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 Message accepted"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=["starttls", "tls", "plain"], required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--out", required=True)
    p.add_argument("--user", default="alerts")
    p.add_argument("--password", default="s3cret")
    a = p.parse_args()
    # Implicit TLS: AUTH is over TLS although aiosmtpd's STARTTLS-based check cannot tell.
    warnings.filterwarnings("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == a.user.encode() and auth_data.password == a.password.encode()
        # handled=False: aiosmtpd answers 535 itself on failure.
        return AuthResult(success=ok, handled=False)

    kwargs = {}
    if a.mode in ("starttls", "tls"):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        kwargs.update(authenticator=authenticator, auth_required=True)
        if a.mode == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True, auth_require_tls=True)
        else:
            kwargs.update(ssl_context=ctx, auth_require_tls=False)
    else:
        kwargs.update(auth_require_tls=False)
    c = Controller(Handler(a.out), hostname="127.0.0.1", port=a.port, ready_timeout=10, **kwargs)
    c.start()
    print("READY", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        c.stop()


if __name__ == "__main__":
    sys.exit(main())
