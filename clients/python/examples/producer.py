"""Sends each line of standard input to a topic as one message, like
``mkfk-producer``: lines already read travel together in batches of up to
1,000 lines (and about 1 MiB), and a line typed alone is sent at once.

    seq 1 20000 | .venv/bin/python examples/producer.py --topic numbers
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
from typing import BinaryIO

from minikafka_client import MiniKafkaError, Producer

PROG = "producer.py"
MAX_BATCH_LINES = 1_000
MAX_BATCH_BYTES = 1024 * 1024
_END = None


def read_lines(stream: BinaryIO, lines: queue.Queue[bytes | None]) -> None:
    """Queues each line of ``stream`` without its line ending, then ``_END``."""
    for line in stream:
        if line.endswith(b"\n"):
            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        lines.put(line)
    lines.put(_END)


def next_batch(lines: queue.Queue[bytes | None]) -> list[bytes]:
    """Waits for a line, then takes the lines already queued, within the
    batch limits. Empty at the end of input."""
    first = lines.get()
    if first is _END:
        lines.put(_END)
        return []
    batch, size = [first], len(first)
    while len(batch) < MAX_BATCH_LINES and size < MAX_BATCH_BYTES:
        try:
            line = lines.get_nowait()
        except queue.Empty:
            break
        if line is _END:
            lines.put(_END)
            break
        batch.append(line)
        size += len(line)
    return batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="server address, host:port (default: $MINIKAFKA_HOST or 127.0.0.1:9999)")
    parser.add_argument("--topic", required=True, help="the topic (created on first use)")
    args = parser.parse_args()

    lines: queue.Queue[bytes | None] = queue.Queue(maxsize=4 * MAX_BATCH_LINES)
    threading.Thread(target=read_lines, args=(sys.stdin.buffer, lines), daemon=True).start()
    stored, first, last = 0, None, 0
    error = None
    # Idempotent, as mkfk-producer is: a batch whose answer was lost is
    # sent again without being stored twice.
    with Producer(args.host, args.topic, idempotent=True) as producer:
        while batch := next_batch(lines):
            try:
                batch_first, last = producer.send_batch(batch)
            except MiniKafkaError as failure:
                error = f"lines {stored + 1}..{stored + len(batch)} were not stored: {failure}"
                break
            first = batch_first if first is None else first
            stored += len(batch)

    noun = "message" if stored == 1 else "messages"
    summary = f"stored {stored} {noun} in '{args.topic}'"
    if first is not None:
        summary += f" (offsets {first}..{last})"
    if error is not None:
        print(f"{PROG}: {error}", file=sys.stderr)
        print(f"{PROG}: {summary} before the failure", file=sys.stderr)
        return 1
    print(f"{PROG}: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
