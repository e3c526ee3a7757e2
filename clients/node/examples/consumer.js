#!/usr/bin/env node
// Prints the messages of a topic on standard output; diagnostics go to
// standard error. Follows the topic by default (the server pushes each
// message as it is stored; a topic that does not exist yet is waited for).
//
//   node examples/consumer.js [--host HOST:PORT] --topic TOPIC
//       [--from OFFSET|end] [--no-follow] [--max N] [--format raw|json]

import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Consumer, status } from 'minikafka-client';

const USAGE =
  'usage: node examples/consumer.js [--host HOST:PORT] --topic TOPIC [--from OFFSET|end] [--no-follow] [--max N] [--format raw|json]';
/** Errors after which subscribing again can succeed. */
const TRANSIENT = new Set([status.UNAVAILABLE, status.UNKNOWN, status.ABORTED, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED]);

let args;
try {
  args = parseArgs({
    options: {
      host: { type: 'string' },
      topic: { type: 'string' },
      from: { type: 'string', default: '0' },
      'no-follow': { type: 'boolean', default: false },
      max: { type: 'string' },
      format: { type: 'string', default: 'raw' },
    },
  }).values;
  if (!args.topic) throw new Error('--topic is required');
  if (args.from !== 'end' && !/^\d+$/.test(args.from)) throw new Error(`'${args.from}' is neither an offset nor 'end'`);
  if (args.max !== undefined && !/^\d+$/.test(args.max)) throw new Error(`--max: '${args.max}' is not a number`);
  if (!['raw', 'json'].includes(args.format)) throw new Error(`--format: '${args.format}' is neither raw nor json`);
} catch (error) {
  console.error(`consumer: ${error.message}\n${USAGE}`);
  process.exit(2);
}

const start = args.from === 'end' ? 'end' : BigInt(args.from);
const consumer = new Consumer(args.host, args.topic, { start });
let remaining = args.max === undefined ? Infinity : Number(args.max);
/** The offset expected next, once known: a message past it means a gap. */
let expected = typeof start === 'bigint' && start > 0n ? start : null;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const NEWLINE = Buffer.from('\n');

/**
 * `"field":"text"`, or `"field_base64":"..."` when `bytes` is not UTF-8.
 * @param {string} field @param {Buffer} bytes
 */
function textField(field, bytes) {
  try {
    return `"${field}":${JSON.stringify(utf8.decode(bytes))}`;
  } catch {
    return `"${field}_base64":"${bytes.toString('base64')}"`;
  }
}

/**
 * A line as `mkfk-consumer` prints it: the payload, or one JSON object
 * with the key and headers when there are any.
 * @param {import('minikafka-client').Message} message
 */
function format(message) {
  if (args.format === 'raw') return Buffer.concat([message.payload, NEWLINE]);
  let body = textField('payload', message.payload);
  if (message.key.length > 0) body += `,${textField('key', message.key)}`;
  if (message.headers.length > 0) {
    const headers = message.headers.map(({ name, value }) => `{"name":${JSON.stringify(name)},${textField('value', value)}}`);
    body += `,"headers":[${headers.join(',')}]`;
  }
  return `{"offset":${message.offset},"timestamp":"${message.timestamp.toISOString()}",${body}}\n`;
}

/** @param {bigint} first @param {bigint} last */
function reportGap(first, last) {
  console.error(`consumer: gap: retention removed ${last - first + 1n} unread messages (offsets ${first}..${last})`);
}

/** @param {import('minikafka-client').Message} message */
async function print(message) {
  if (expected !== null && message.offset > expected) reportGap(expected, message.offset - 1n);
  expected = message.offset + 1n;
  remaining -= 1;
  if (!process.stdout.write(format(message))) await once(process.stdout, 'drain');
}

/** Polls until a poll comes back empty. */
async function printToTheEnd() {
  while (remaining > 0) {
    const { messages, gap } = await consumer.poll();
    if (gap) {
      reportGap(gap.first, gap.last);
      expected = null;
    }
    if (messages.length === 0) return;
    for (const message of messages.slice(0, remaining)) await print(message);
  }
}

/** Prints what the server pushes, subscribing again after transient errors. */
async function follow() {
  try {
    await consumer.describe();
  } catch (error) {
    if (error.code !== status.NOT_FOUND) throw error;
    console.error(`consumer: waiting for topic '${args.topic}' to be created`);
  }
  let backoff = 100;
  while (remaining > 0) {
    try {
      for await (const message of consumer.subscribe()) {
        backoff = 100;
        await print(message);
        if (remaining <= 0) return;
      }
    } catch (error) {
      if (!TRANSIENT.has(error.code)) throw error;
      console.error(`consumer: ${error.message}; subscribing again in ${backoff} ms`);
    }
    await sleep(backoff);
    backoff = Math.min(backoff * 2, 5_000);
  }
}

// The reader went away (`| head`): not a failure.
process.stdout.on('error', (error) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});

try {
  await (args['no-follow'] ? printToTheEnd() : follow());
} catch (error) {
  console.error(`consumer: ${error.message}`);
  process.exitCode = 1;
} finally {
  consumer.close();
}
