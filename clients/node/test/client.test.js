// End-to-end tests against a running mkfk-server (started by the caller,
// never by these tests): MINIKAFKA_TEST_HOST=127.0.0.1:9999 npm test

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Consumer, Producer, status } from 'minikafka-client';

const HOST = process.env.MINIKAFKA_TEST_HOST;
if (!HOST) {
  throw new Error('MINIKAFKA_TEST_HOST is not set: start an mkfk-server and set it to its host:port, e.g. MINIKAFKA_TEST_HOST=127.0.0.1:9999 npm test');
}
const EXAMPLES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'examples');
const MiB = 1024 * 1024;
/** No test may hang the run. */
const LIMIT = { timeout: 20_000 };

/** Every producer and consumer made, closed at the end. */
const open = [];
after(() => open.forEach((client) => client.close()));
/** @template T @param {T} client @returns {T} */
const tracked = (client) => (open.push(client), client);
const producer = (t) => tracked(new Producer(HOST, t, { timeoutMs: 10_000 }));
const consumer = (t, options = {}) => tracked(new Consumer(HOST, t, { timeoutMs: 10_000, ...options }));
/** A fresh topic for each test. */
const topic = () => `node-${randomUUID()}`;
const hasCode = (code) => (error) => {
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
  return true;
};

test('1,000 messages in batches read back byte for byte', LIMIT, async () => {
  const t = topic();
  const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const payloads = Array.from({ length: 1000 }, (_, i) => {
    if (i % 100 === 7) return Buffer.alloc(0);
    if (i % 100 === 13) return allBytes;
    return Buffer.from(`message ${i} \u00e9\u{1F600} ${'x'.repeat(i)}`);
  });
  payloads[500] = Buffer.alloc(MiB, 0xab); // exactly the server's default limit
  const p = producer(t);
  for (let i = 0, next = 1n; i < payloads.length; i += 150) {
    const batch = payloads.slice(i, i + 150);
    assert.deepEqual(await p.sendBatch(batch), { first: next, last: next + BigInt(batch.length) - 1n });
    next += BigInt(batch.length);
  }

  const c = consumer(t);
  const read = [];
  for (;;) {
    const { messages, gap } = await c.poll();
    assert.equal(gap, null);
    if (messages.length === 0) break;
    // A reply holds at most 1 MiB of payload, but always at least one message.
    if (messages.some((m) => m.offset === 501n)) assert.equal(messages.length, 1);
    read.push(...messages);
  }
  assert.equal(read.length, payloads.length);
  read.forEach((m, i) => {
    assert.equal(m.offset, BigInt(i + 1));
    assert.ok(m.timestamp instanceof Date && !Number.isNaN(m.timestamp.getTime()));
    assert.ok(m.payload.equals(payloads[i]), `payload of offset ${m.offset} differs`);
  });
  assert.equal(c.position, 1001n);
});

test('errors carry gRPC status codes', LIMIT, async () => {
  await assert.rejects(consumer(topic()).poll(), hasCode(status.NOT_FOUND));
  await assert.rejects(producer('a/b').send('x'), hasCode(status.INVALID_ARGUMENT));
  await assert.rejects(producer(topic()).sendBatch([]), hasCode(status.INVALID_ARGUMENT));
  await assert.rejects(producer(topic()).send(Buffer.alloc(MiB + 1)), hasCode(status.INVALID_ARGUMENT));
  const t = topic();
  await producer(t).send('one');
  await assert.rejects(consumer(t, { start: 5n }).poll(), (error) => {
    assert.equal(error.code, status.OUT_OF_RANGE);
    assert.match(error.details, /beyond the end/);
    return true;
  });
});

test('offsets are consecutive bigints', LIMIT, async () => {
  const p = producer(topic());
  const offsets = [];
  for (let i = 0; i < 5; i++) offsets.push(await p.send(`m${i}`));
  offsets.forEach((offset, i) => {
    assert.equal(typeof offset, 'bigint');
    assert.equal(offset, BigInt(i + 1));
  });
  const { first, last } = await p.sendBatch(['a', 'b', 'c']);
  assert.equal(typeof first, 'bigint');
  assert.deepEqual([first, last], [6n, 8n]);
});

test('subscribe from the end yields only messages produced after it started', LIMIT, async () => {
  const t = topic();
  const p = producer(t);
  await p.send('before'); // offset 1: must never be yielded
  const c = consumer(t, { start: 'end' });
  const messages = c.subscribe();
  const produced = new Map(); // offset -> payload
  const first = messages.next();
  let result;
  for (let i = 0; !result; i++) {
    assert.ok(i < 100, 'the subscription yielded nothing within 100 produces');
    const payload = `after ${i}`;
    produced.set(await p.send(payload), payload);
    result = await Promise.race([first, new Promise((resolve) => setTimeout(resolve, 50))]);
  }
  const yielded = [result.value];
  const last = await p.send('last');
  produced.set(last, 'last');
  while (yielded.at(-1).offset < last) yielded.push((await messages.next()).value);

  yielded.forEach((m, i) => {
    assert.equal(m.payload.toString(), produced.get(m.offset), `offset ${m.offset} was not produced after the start`);
    if (i > 0) assert.equal(m.offset, yielded[i - 1].offset + 1n);
  });
  assert.equal(c.position, last + 1n);
  assert.deepEqual(await messages.return(), { done: true, value: undefined });
});

test('closing a consumer ends its subscription quietly', LIMIT, async () => {
  const c = consumer(topic(), { start: 'end' });
  const next = c.subscribe().next();
  setTimeout(() => c.close(), 100);
  assert.deepEqual(await next, { done: true, value: undefined });
});

test('a long poll answers as soon as a message is stored', LIMIT, async () => {
  const t = topic();
  const p = producer(t);
  await p.send('old');
  const c = consumer(t, { start: 'end' });
  const started = Date.now();
  const polled = c.poll({ waitMs: 5000 });
  setTimeout(() => p.send('new'), 200);
  const { messages, gap } = await polled;
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 2000, `the long poll took ${elapsed} ms`);
  assert.equal(gap, null);
  assert.deepEqual(messages.map((m) => [m.offset, m.payload.toString()]), [[2n, 'new']]);
  assert.equal(c.position, 3n);
});

/** Runs an example script, feeding `input`; resolves with its outputs. */
function runExample(script, args, input = '') {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [path.join(EXAMPLES, script), '--host', HOST, ...args], { timeout: 20_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${script} failed: ${error.message}\n${stderr}`)) : resolve({ stdout, stderr }),
    );
    child.stdin.end(input);
  });
}

test('the example scripts produce and consume', LIMIT, async () => {
  const t = topic();
  const lines = Array.from({ length: 100 }, (_, i) => `line ${i} "quoted" \u00fc`);
  const produced = await runExample('producer.js', ['--topic', t], lines.join('\n') + '\n');
  assert.match(produced.stderr, new RegExp(`stored 100 messages in '${t}' \\(offsets 1\\.\\.100\\)`));

  const { stdout } = await runExample('consumer.js', ['--topic', t, '--no-follow', '--format', 'json']);
  const out = stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
  assert.equal(out.length, 100);
  out.forEach((m, i) => {
    assert.deepEqual(Object.keys(m), ['offset', 'timestamp', 'payload']);
    assert.equal(m.offset, i + 1);
    assert.equal(m.payload, lines[i]);
    assert.match(m.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  const raw = await runExample('consumer.js', ['--topic', t, '--from', '99', '--max', '2']);
  assert.equal(raw.stdout, `${lines[98]}\n${lines[99]}\n`);
});

test('the example producer fails with a non-zero exit on a bad topic', LIMIT, async () => {
  await assert.rejects(runExample('producer.js', ['--topic', 'a/b'], 'x\n'), /INVALID_ARGUMENT/);
});

test('the example consumer follows a topic and prints non-UTF-8 payloads as base64', LIMIT, async () => {
  const t = topic();
  const child = spawn(process.execPath, [path.join(EXAMPLES, 'consumer.js'), '--host', HOST, '--topic', t, '--from', 'end', '--max', '1', '--format', 'json']);
  let stdout = '';
  child.stdout.on('data', (data) => (stdout += data));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const p = producer(t);
  try {
    for (let i = 0; i < 100 && !stdout; i++) {
      await p.send(Buffer.from([0xff, 0x00]));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(await exited, 0);
  } finally {
    child.kill();
  }
  const line = JSON.parse(stdout);
  assert.equal(line.payload_base64, '/wA=');
  assert.equal('payload' in line, false);
});
