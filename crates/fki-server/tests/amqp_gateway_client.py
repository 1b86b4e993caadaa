#!/usr/bin/env python3
"""A KOMBIT-style AMQP client for fki's gateway tests, written the way KOMBIT's Python users
write theirs (pika, TLS on the gateway port, virtual host BF, SASL EXTERNAL whose response is
the SAML assertion XML): it is a client library other than lapin, as issue 4 asks.

Usage (one JSON object per line on stdout; exit code 0 unless the client itself broke):

    amqp_gateway_client.py afsend  HOST PORT CAFILE TOKENFILE MESSAGEFILE
    amqp_gateway_client.py hent    HOST PORT CAFILE TOKENFILE QUEUE COUNT
    amqp_gateway_client.py plain   HOST PORT CAFILE USER PASSWORD QUEUE
    amqp_gateway_client.py hold    HOST PORT CAFILE TOKENFILE SECONDS

`afsend` publishes MESSAGEFILE to AFSEND_BESKED_EXCHANGE with reply_to amq.rabbitmq.reply-to
and prints {"reply": "<AfsendBeskedOutput…>"}; `hent` consumes COUNT messages from QUEUE with
manual ack and prints {"message_id": …, "body": …} for each; `plain` connects with PLAIN and
tries to read QUEUE once; `hold` keeps a connection open for up to SECONDS and prints
{"closed_after": s} when the server closes it, or {"open": true}. A refused connection or channel prints {"refused": "<reason>"}.
"""

import json
import ssl
import sys
import uuid

import pika
from pika.credentials import ExternalCredentials, PlainCredentials


class TokenCredentials(ExternalCredentials):
    """SASL EXTERNAL with the assertion as the response (KOMBIT's TokenSaslConfig)."""

    def __init__(self, token: bytes):
        super().__init__()
        self.token = token

    def response_for(self, start):
        return self.TYPE, self.token


def params(host, port, cafile, credentials):
    ctx = ssl.create_default_context(cafile=cafile)
    return pika.ConnectionParameters(
        host=host,
        port=int(port),
        virtual_host="BF",
        ssl_options=pika.SSLOptions(context=ctx, server_hostname="localhost"),
        credentials=credentials,
        connection_attempts=1,
        socket_timeout=10,
        blocked_connection_timeout=10,
    )


def out(obj):
    print(json.dumps(obj), flush=True)


def refused(e):
    out({"refused": f"{type(e).__name__}: {e}"})


def afsend(host, port, cafile, tokenfile, messagefile):
    token = open(tokenfile, "rb").read()
    body = open(messagefile, "rb").read()
    try:
        conn = pika.BlockingConnection(params(host, port, cafile, TokenCredentials(token)))
    except Exception as e:  # noqa: BLE001 - the test reads the reason
        return refused(e)
    ch = conn.channel()
    replies = []
    ch.basic_consume("amq.rabbitmq.reply-to", lambda c, m, p, b: replies.append((p, b)), auto_ack=True)
    corr = str(uuid.uuid4())
    try:
        ch.basic_publish(
            exchange="AFSEND_BESKED_EXCHANGE",
            routing_key="",
            body=body,
            properties=pika.BasicProperties(
                reply_to="amq.rabbitmq.reply-to",
                correlation_id=corr,
                message_id=str(uuid.uuid4()),
                headers={"token": token.decode()},
                delivery_mode=2,
            ),
        )
        deadline = 100
        while not replies and deadline > 0:
            conn.process_data_events(time_limit=0.1)
            deadline -= 1
    except Exception as e:  # noqa: BLE001
        return refused(e)
    if not replies:
        out({"error": "no reply"})
    else:
        p, b = replies[0]
        out({"reply": b.decode(), "correlation_ok": p.correlation_id == corr})
    conn.close()


def hent(host, port, cafile, tokenfile, queue, count):
    token = open(tokenfile, "rb").read()
    try:
        conn = pika.BlockingConnection(params(host, port, cafile, TokenCredentials(token)))
        ch = conn.channel()
        n = 0
        for method, props, body in ch.consume(queue, auto_ack=False, inactivity_timeout=10):
            if method is None:
                out({"error": "timeout"})
                break
            out({"message_id": props.message_id, "body": body.decode()})
            ch.basic_ack(method.delivery_tag)
            n += 1
            if n >= int(count):
                break
        ch.cancel()
        conn.close()
    except Exception as e:  # noqa: BLE001
        refused(e)


def plain(host, port, cafile, user, password, queue):
    try:
        conn = pika.BlockingConnection(params(host, port, cafile, PlainCredentials(user, password)))
        ch = conn.channel()
        ch.queue_declare(queue, passive=True)
        out({"ok": True})
        conn.close()
    except Exception as e:  # noqa: BLE001
        refused(e)


def hold(host, port, cafile, tokenfile, seconds):
    import time

    token = open(tokenfile, "rb").read()
    try:
        conn = pika.BlockingConnection(params(host, port, cafile, TokenCredentials(token)))
    except Exception as e:  # noqa: BLE001
        return refused(e)
    start = time.monotonic()
    while time.monotonic() - start < float(seconds):
        try:
            conn.process_data_events(time_limit=0.2)
        except Exception:  # noqa: BLE001 - closed by the gateway
            return out({"closed_after": round(time.monotonic() - start, 1)})
        if not conn.is_open:
            return out({"closed_after": round(time.monotonic() - start, 1)})
    out({"open": True})
    conn.close()


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"afsend": afsend, "hent": hent, "plain": plain, "hold": hold}[cmd](*args)
