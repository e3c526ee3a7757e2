"""Prints the messages of a topic, like ``mkfk-consumer``: by default it
follows the topic (the server pushes each message as it is stored; a topic
that does not exist yet is waited for). Diagnostics go to standard error.

    .venv/bin/python examples/consumer.py --topic numbers --from 19998 --max 3
    .venv/bin/python examples/consumer.py --topic chat --from end --format json
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import sys
from typing import BinaryIO

import grpc

from minikafka_client import Consumer, Message, MiniKafkaError, Start

PROG = "consumer.py"


def parse_from(value: str) -> Start:
    """``end``, or an offset (0: the earliest retained message)."""
    if value == "end":
        return "end"
    try:
        offset = int(value)
    except ValueError:
        offset = -1
    if offset < 0:
        raise argparse.ArgumentTypeError(f"'{value}' is neither an offset nor 'end'")
    return offset


def _text(field: str, data: bytes) -> dict[str, str]:
    """``{field: text}``, or ``{field_base64: ...}`` when ``data`` is not UTF-8."""
    try:
        return {field: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{field}_base64": base64.b64encode(data).decode("ascii")}


def format_message(message: Message, fmt: str) -> bytes:
    """The payload and a newline, or one JSON object per line as
    ``mkfk-consumer --format json`` prints it (``payload_base64`` instead
    of ``payload`` when not UTF-8; then the key and headers, when there are
    any, likewise)."""
    if fmt == "raw":
        return message.payload + b"\n"
    ts = message.timestamp
    line: dict[str, object] = {
        "offset": message.offset,
        "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S") + f".{ts.microsecond // 1000:03d}Z",
        **_text("payload", message.payload),
    }
    if message.key:
        line.update(_text("key", message.key))
    if message.headers:
        line["headers"] = [{"name": h.name, **_text("value", h.value)} for h in message.headers]
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def report_gap(first: int, last: int) -> None:
    print(
        f"{PROG}: gap: retention removed {last - first + 1} unread messages (offsets {first}..{last})",
        file=sys.stderr,
    )


class Printer:
    """Prints messages, reports jumps in offsets as gaps, counts down --max."""

    def __init__(self, out: BinaryIO, fmt: str, remaining: int | None, expected: int | None) -> None:
        self.out, self.fmt, self.remaining, self.expected = out, fmt, remaining, expected

    def print(self, message: Message) -> None:
        if self.expected is not None and message.offset > self.expected:
            report_gap(self.expected, message.offset - 1)
        self.expected = message.offset + 1
        self.out.write(format_message(message, self.fmt))
        if self.remaining is not None:
            self.remaining -= 1

    @property
    def done(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


def print_to_the_end(consumer: Consumer, printer: Printer) -> None:
    """Polls until a poll comes back empty."""
    while not printer.done:
        result = consumer.poll()
        if result.gap is not None:
            report_gap(result.gap.first, result.gap.last)
            printer.expected = None
        if not result.messages:
            break
        for message in result.messages:
            printer.print(message)
            if printer.done:
                break
        printer.out.flush()


def follow(consumer: Consumer, printer: Printer, topic: str) -> None:
    """Prints what the server pushes."""
    try:
        consumer.describe_topic()
    except MiniKafkaError as error:
        if error.code != grpc.StatusCode.NOT_FOUND:
            raise
        print(f"{PROG}: waiting for topic '{topic}' to be created", file=sys.stderr)
    if printer.done:
        return
    for message in consumer.subscribe():
        printer.print(message)
        printer.out.flush()
        if printer.done:
            break


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="server address, host:port (default: $MINIKAFKA_HOST or 127.0.0.1:9999)")
    parser.add_argument("--topic", required=True, help="the topic (waited for if it does not exist yet)")
    parser.add_argument("--from", dest="start", type=parse_from, default=0, metavar="N|end",
                        help="an offset, 0 for the earliest retained message (default), or 'end'")
    parser.add_argument("--no-follow", action="store_true", help="exit at the end of the topic")
    parser.add_argument("--max", type=int, help="exit after printing this many messages")
    parser.add_argument("--format", choices=["raw", "json"], default="raw", help="how to print each message")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="the longest wait in seconds between attempts to resubscribe (default 1)")
    args = parser.parse_args()
    logging.basicConfig(format=f"{PROG}: %(message)s")

    expected = args.start if isinstance(args.start, int) and args.start > 0 else None
    printer = Printer(sys.stdout.buffer, args.format, args.max, expected)
    with Consumer(args.host, args.topic, args.start, max_backoff=args.interval) as consumer:
        try:
            if args.no_follow:
                print_to_the_end(consumer, printer)
            else:
                follow(consumer, printer, args.topic)
            printer.out.flush()
        except MiniKafkaError as error:
            printer.out.flush()
            print(f"{PROG}: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        # The reader went away (`| head`): not a failure.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
