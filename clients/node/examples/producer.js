#!/usr/bin/env node
// Sends each line of standard input to a topic as one message, in batches.
//
//   node examples/producer.js [--host HOST:PORT] --topic TOPIC < lines.txt

import { parseArgs } from 'node:util';
import { Producer } from 'minikafka-client';

const MAX_BATCH_LINES = 1_000;
/** The most payload bytes in one request (one longer line aside). */
const MAX_BATCH_BYTES = 1024 * 1024;
const USAGE = 'usage: node examples/producer.js [--host HOST:PORT] --topic TOPIC';

let args;
try {
  args = parseArgs({ options: { host: { type: 'string' }, topic: { type: 'string' } } }).values;
  if (!args.topic) throw new Error('--topic is required');
} catch (error) {
  console.error(`producer: ${error.message}\n${USAGE}`);
  process.exit(2);
}
const { host, topic } = args;

/** Splits `data` into complete lines (without \n or \r\n) and the rest. @param {Buffer} data */
function splitLines(data) {
  const lines = [];
  let start = 0;
  for (let end; (end = data.indexOf(10, start)) !== -1; start = end + 1) {
    lines.push(data.subarray(start, end > start && data[end - 1] === 13 ? end - 1 : end));
  }
  return { lines, rest: data.subarray(start) };
}

/** Takes the next batch off the front of `lines`. @param {Buffer[]} lines */
function nextBatch(lines) {
  let count = 0;
  let bytes = 0;
  while (count < lines.length && count < MAX_BATCH_LINES && (count === 0 || bytes + lines[count].length <= MAX_BATCH_BYTES)) {
    bytes += lines[count++].length;
  }
  return lines.splice(0, count);
}

// Idempotent, as mkfk-producer is: a batch whose answer was lost is sent
// again without being stored twice.
const producer = new Producer(host, topic, { idempotent: true });
let stored = 0;
let first = null;
let last = null;

/** Sends all of `lines`; throws with the line numbers of a batch that failed. @param {Buffer[]} lines */
async function sendAll(lines) {
  while (lines.length > 0) {
    const batch = nextBatch(lines);
    try {
      const range = await producer.sendBatch(batch);
      first ??= range.first;
      last = range.last;
      stored += batch.length;
    } catch (error) {
      throw new Error(`lines ${stored + 1}..${stored + batch.length} were not stored: ${error.message}`);
    }
  }
}

function summary() {
  const what = `stored ${stored} ${stored === 1 ? 'message' : 'messages'} in '${topic}'`;
  return first === null ? what : `${what} (offsets ${first}..${last})`;
}

try {
  let rest = Buffer.alloc(0);
  for await (const chunk of process.stdin) {
    const split = splitLines(rest.length ? Buffer.concat([rest, chunk]) : chunk);
    rest = Buffer.from(split.rest);
    await sendAll(split.lines);
  }
  if (rest.length > 0) await sendAll([rest]);
  console.error(`producer: ${summary()}`);
} catch (error) {
  console.error(`producer: ${error.message}`);
  console.error(`producer: ${summary()} before the failure`);
  process.exitCode = 1;
} finally {
  producer.close();
}
