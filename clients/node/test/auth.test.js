// Tokens against a running mkfk-server with MINIKAFKA_AUTH_FILE (started by
// cmd/tests/clients.rs): every call and stream is refused without a token
// and served with one, given as the `token` option or by MINIKAFKA_TOKEN.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { Admin, Consumer, Producer, status } from 'minikafka-client';

const required = (name) => {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: the token tests need an mkfk-server with MINIKAFKA_AUTH_FILE (MINIKAFKA_TEST_AUTH_HOST), ` +
        'a token that may produce and consume any topic (MINIKAFKA_TEST_TOKEN) and an admin token ' +
        '(MINIKAFKA_TEST_ADMIN_TOKEN); cmd/tests/clients.rs sets all three',
    );
  }
  return value;
};
const HOST = required('MINIKAFKA_TEST_AUTH_HOST');
const TOKEN = required('MINIKAFKA_TEST_TOKEN');
const ADMIN_TOKEN = required('MINIKAFKA_TEST_ADMIN_TOKEN');
// Without the `token` option, these tests send no token unless they set one.
delete process.env.MINIKAFKA_TOKEN;

/** No test may hang the run. */
const LIMIT = { timeout: 20_000 };
/** Every client made, closed at the end. */
const open = [];
after(() => open.forEach((client) => client.close()));
/** @template T @param {T} client @returns {T} */
const tracked = (client) => (open.push(client), client);
/** A fresh topic for each test. */
const topic = () => `node-auth-${randomUUID()}`;
const hasCode = (code) => (error) => {
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
  return true;
};
const unauthenticated = hasCode(status.UNAUTHENTICATED);

test('without a token every call and stream is UNAUTHENTICATED', LIMIT, async () => {
  const t = topic();
  await assert.rejects(tracked(new Producer(HOST, t)).send('x'), unauthenticated);
  const consumer = tracked(new Consumer(HOST, t));
  await assert.rejects(consumer.poll(), unauthenticated);
  await assert.rejects(consumer.subscribe().next(), unauthenticated);
  await assert.rejects(tracked(new Admin(HOST)).describeTopic(t), unauthenticated);
});

test('with a token produce, poll and subscribe succeed', LIMIT, async () => {
  const t = topic();
  const producer = tracked(new Producer(HOST, t, { token: TOKEN }));
  assert.deepEqual(await producer.sendBatch(['one', 'two']), { first: 1n, last: 2n });
  const { messages } = await tracked(new Consumer(HOST, t, { token: TOKEN })).poll();
  assert.deepEqual(messages.map((m) => m.payload.toString()), ['one', 'two']);
  const subscription = tracked(new Consumer(HOST, t, { start: 2n, token: TOKEN })).subscribe();
  const { value } = await subscription.next();
  assert.equal(value.payload.toString(), 'two');
  await subscription.return();
});

test('an admin token describes; a client token may not create', LIMIT, async () => {
  const t = topic();
  const admin = tracked(new Admin(HOST, { token: ADMIN_TOKEN }));
  assert.equal((await admin.createTopic(t)).name, t);
  assert.equal((await admin.describeTopic(t)).nextOffset, 1n);
  await assert.rejects(
    tracked(new Admin(HOST, { token: TOKEN })).createTopic(`${t}-not`),
    hasCode(status.PERMISSION_DENIED),
  );
});

test('the token defaults to MINIKAFKA_TOKEN', LIMIT, async () => {
  const t = topic();
  process.env.MINIKAFKA_TOKEN = TOKEN;
  let producer, consumer;
  try {
    producer = tracked(new Producer(HOST, t));
    consumer = tracked(new Consumer(HOST, t));
  } finally {
    delete process.env.MINIKAFKA_TOKEN;
  }
  assert.equal(await producer.send('from the environment'), 1n);
  const { messages } = await consumer.poll();
  assert.deepEqual(messages.map((m) => m.payload.toString()), ['from the environment']);
});
