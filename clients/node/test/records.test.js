// Keys, headers, idempotent produce and conditional appends, against a
// running mkfk-server: MINIKAFKA_TEST_HOST=127.0.0.1:9999 npm test

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import { Admin, Consumer, NextOffsetMismatchError, Producer, SequenceOutOfOrderError, status } from 'minikafka-client';

const HOST = process.env.MINIKAFKA_TEST_HOST;
if (!HOST) throw new Error('MINIKAFKA_TEST_HOST is not set: start an mkfk-server and set it to its host:port');
/** No test may hang the run. */
const LIMIT = { timeout: 20_000 };

const open = [];
after(() => open.forEach((client) => client.close()));
/** @template T @param {T} client @returns {T} */
const tracked = (client) => (open.push(client), client);
const topic = () => `node-${randomUUID()}`;
const hasCode = (code) => (error) => {
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
  return true;
};

/** Every message of topic `t`, from the earliest. */
async function readAll(t) {
  const consumer = tracked(new Consumer(HOST, t));
  const messages = [];
  for (;;) {
    const { messages: batch } = await consumer.poll();
    if (batch.length === 0) return messages;
    messages.push(...batch);
  }
}

/**
 * An interceptor that lets each Produce reach the server and be stored, and
 * loses the answer of the next `drops` of them, as a dropped connection
 * would; `sent` counts every Produce.
 */
function dropsAnswers() {
  const state = { drops: 0, sent: 0 };
  state.interceptor = (options, nextCall) => {
    if (options.method_definition.path !== '/minikafka.v1.MiniKafka/Produce') return new grpc.InterceptingCall(nextCall(options));
    state.sent += 1;
    const drop = state.drops > 0;
    if (drop) state.drops -= 1;
    return new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        // A failed status makes grpc-js reject the call, whatever reply
        // came before it.
        next(metadata, {
          onReceiveStatus(received, nextStatus) {
            nextStatus(
              drop && received.code === status.OK
                ? { code: status.UNAVAILABLE, details: 'the answer was lost on the way', metadata: new grpc.Metadata() }
                : received,
            );
          },
        });
      },
    });
  };
  return state;
}

const RECORDS = [
  { payload: 'plain' },
  {
    payload: Buffer.from('with both'),
    key: Buffer.from([0, 1, 0xff]),
    headers: [['trace', 'a'], { name: 'content-type', value: Buffer.from([0xfe, 0]) }, ['trace', '']],
  },
  { payload: '', key: 'key only' },
];

/** What reading RECORDS back gives. */
const asRead = (record) => ({
  payload: Buffer.from(record.payload),
  key: Buffer.from(record.key ?? ''),
  headers: Array.from(record.headers ?? [], (h) => {
    const [name, value] = Array.isArray(h) ? h : [h.name, h.value];
    return { name, value: Buffer.from(value) };
  }),
});

test('keys and headers come back as sent, and count in the topic size', LIMIT, async () => {
  const t = topic();
  const producer = tracked(new Producer(HOST, t));
  assert.deepEqual(await producer.sendRecords(RECORDS), { first: 1n, last: 3n });
  assert.equal(await producer.sendRecord({ payload: 'one more', key: 'k' }), 4n);
  const read = await readAll(t);
  assert.deepEqual(
    read.map(({ payload, key, headers }) => ({ payload, key, headers })),
    [...RECORDS, { payload: 'one more', key: 'k' }].map(asRead),
  );
  const admin = tracked(new Admin(HOST));
  const { sizeBytes } = await admin.describeTopic(t);
  // Payloads, keys, and header names and values.
  const expected = 'plain'.length + 'with both'.length + 3 + 'tracea'.length + 'content-type'.length + 2 + 'trace'.length + 'key only'.length + 'one more'.length + 1;
  assert.equal(sizeBytes, BigInt(expected));
});

test('a bad header name is refused, naming the record, and stores nothing', LIMIT, async () => {
  const t = topic();
  const producer = tracked(new Producer(HOST, t));
  await assert.rejects(producer.sendRecords([{ payload: 'fine' }, { payload: 'bad', headers: [['', 'x']] }]), (error) => {
    hasCode(status.INVALID_ARGUMENT)(error);
    assert.match(error.details, /records\[1\]/);
    return true;
  });
  await assert.rejects(tracked(new Admin(HOST)).describeTopic(t), hasCode(status.NOT_FOUND));
});

test('an idempotent producer retries a lost answer without storing a copy', LIMIT, async () => {
  const t = topic();
  const dropper = dropsAnswers();
  const producer = tracked(new Producer(HOST, t, { idempotent: true, interceptors: [dropper.interceptor] }));
  assert.equal(await producer.send('before'), 1n);
  dropper.drops = 1;
  // Stored, answer lost, retried: the offsets the first attempt got.
  assert.deepEqual(await producer.sendRecords([{ payload: 'a', key: 'k' }, { payload: 'b' }]), { first: 2n, last: 3n });
  assert.equal(dropper.sent, 3);
  assert.equal(await producer.send('after'), 4n);
  assert.deepEqual((await readAll(t)).map((m) => m.payload.toString()), ['before', 'a', 'b', 'after']);
});

test('a plain producer does not retry', LIMIT, async () => {
  const dropper = dropsAnswers();
  dropper.drops = 1;
  const producer = tracked(new Producer(HOST, topic(), { interceptors: [dropper.interceptor] }));
  await assert.rejects(producer.send('once'), hasCode(status.UNAVAILABLE));
  assert.equal(dropper.sent, 1);
});

test('an idempotent producer gives up when its retry time runs out', LIMIT, async () => {
  const t = topic();
  const dropper = dropsAnswers();
  dropper.drops = Infinity;
  const producer = tracked(new Producer(HOST, t, { idempotent: true, retryForMs: 300, interceptors: [dropper.interceptor] }));
  await assert.rejects(producer.send('x'), hasCode(status.UNAVAILABLE));
  assert.ok(dropper.sent > 1, `sent ${dropper.sent} times`);
  // However many times it was sent, it was stored once.
  assert.deepEqual((await readAll(t)).map((m) => m.payload.toString()), ['x']);
});

test('concurrent idempotent sends each get their own offsets', LIMIT, async () => {
  const t = topic();
  const producer = tracked(new Producer(HOST, t, { idempotent: true }));
  const offsets = await Promise.all(Array.from({ length: 100 }, (_, i) => producer.send(`m${i}`)));
  assert.deepEqual(
    offsets.sort((a, b) => (a < b ? -1 : 1)),
    Array.from({ length: 100 }, (_, i) => BigInt(i + 1)),
  );
});

test('a conditional append stores only at the expected offset', LIMIT, async () => {
  const t = topic();
  const producer = tracked(new Producer(HOST, t));
  await assert.rejects(producer.sendRecords([{ payload: 'event' }], { expectedNextOffset: 2n }), (error) => {
    assert.ok(error instanceof NextOffsetMismatchError, String(error));
    assert.equal(error.code, status.FAILED_PRECONDITION);
    assert.equal(error.nextOffset, 1n);
    return true;
  });
  await assert.rejects(tracked(new Admin(HOST)).describeTopic(t), hasCode(status.NOT_FOUND));
  assert.deepEqual(await producer.sendRecords([{ payload: 'event' }], { expectedNextOffset: 1n }), { first: 1n, last: 1n });
  assert.deepEqual(await producer.sendBatch(['next'], { expectedNextOffset: 2 }), { first: 2n, last: 2n });
  const idempotent = tracked(new Producer(HOST, t, { idempotent: true }));
  await assert.rejects(idempotent.sendBatch(['stale'], { expectedNextOffset: 2n }), (error) => {
    assert.ok(error instanceof NextOffsetMismatchError, String(error));
    assert.equal(error.nextOffset, 3n);
    return true;
  });
  assert.deepEqual((await readAll(t)).map((m) => m.payload.toString()), ['event', 'next']);
});

test('a sequence gap is refused with the expected sequence and stores nothing', LIMIT, async () => {
  // The Producer numbers its batches itself: an interceptor makes its
  // second batch skip ahead.
  const t = topic();
  let calls = 0;
  const secondSkipsAhead = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      sendMessage(message, next) {
        calls += 1;
        next(calls === 2 ? { ...message, sequence: String(BigInt(message.sequence) + 4n) } : message);
      },
    });
  const producer = tracked(new Producer(HOST, t, { idempotent: true, interceptors: [secondSkipsAhead] }));
  assert.equal(await producer.send('first'), 1n);
  await assert.rejects(producer.send('skips ahead'), (error) => {
    assert.ok(error instanceof SequenceOutOfOrderError, String(error));
    assert.equal(error.code, status.FAILED_PRECONDITION);
    assert.equal(error.expectedSequence, 1n);
    return true;
  });
  // The lane the server disagreed with is dropped; a fresh one starts anywhere.
  assert.equal(await producer.send('second'), 2n);
  assert.deepEqual((await readAll(t)).map((m) => m.payload.toString()), ['first', 'second']);
});

test('the example consumer prints keys and headers as mkfk-consumer does', LIMIT, async () => {
  const t = topic();
  await tracked(new Producer(HOST, t)).sendRecords(RECORDS);
  const consumer = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'consumer.js');
  const stdout = await new Promise((resolve, reject) =>
    execFile(process.execPath, [consumer, '--host', HOST, '--topic', t, '--no-follow', '--format', 'json'], { timeout: 20_000 }, (error, out, err) =>
      error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out),
    ),
  );
  const lines = stdout.trimEnd().split('\n').map((line) => {
    const { offset, timestamp, ...rest } = JSON.parse(line);
    return rest;
  });
  assert.deepEqual(lines, [
    { payload: 'plain' },
    {
      payload: 'with both',
      key_base64: 'AAH/',
      headers: [
        { name: 'trace', value: 'a' },
        { name: 'content-type', value_base64: '/gA=' },
        { name: 'trace', value: '' },
      ],
    },
    { payload: '', key: 'key only' },
  ]);
});
