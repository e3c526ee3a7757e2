// Topic administration against a running mkfk-server (started by the
// caller): MINIKAFKA_TEST_HOST=127.0.0.1:9999 npm test

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { Admin, Consumer, Producer, status } from 'minikafka-client';

const HOST = process.env.MINIKAFKA_TEST_HOST;
if (!HOST) {
  throw new Error('MINIKAFKA_TEST_HOST is not set: start an mkfk-server and set it to its host:port, e.g. MINIKAFKA_TEST_HOST=127.0.0.1:9999 npm test');
}
/** No test may hang the run. */
const LIMIT = { timeout: 20_000 };
const DAY_MS = 86_400_000;

/** Every client made, closed at the end. */
const open = [];
after(() => open.forEach((client) => client.close()));
/** @template T @param {T} client @returns {T} */
const tracked = (client) => (open.push(client), client);
const admin = tracked(new Admin(HOST, { timeoutMs: 10_000 }));
/** A fresh topic for each test. */
const topic = () => `node-admin-${randomUUID()}`;
const hasCode = (code, naming) => (error) => {
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
  if (naming) assert.match(error.details, new RegExp(naming), error.details);
  return true;
};

test('create succeeds again with the same settings; other settings already exist', LIMIT, async () => {
  const t = topic();
  const settings = { retention: { maxAgeMs: DAY_MS }, retentionBytes: 10_000 };
  const created = await admin.createTopic(t, settings);
  assert.equal(created.name, t);
  assert.equal(created.nextOffset, 1n);
  assert.equal(created.oldestTimestamp, null);
  assert.deepEqual((await admin.createTopic(t, settings)).settings, created.settings);

  await assert.rejects(admin.createTopic(t, { retention: 'forever' }), hasCode(status.ALREADY_EXISTS, t));
  assert.deepEqual((await admin.describeTopic(t)).settings, created.settings, 'refused, it changed nothing');
});

test('describe shows each setting with its source', LIMIT, async () => {
  const t = topic();
  await admin.createTopic(t, { retention: 'forever', maxMessageBytes: 1000n });
  const producer = tracked(new Producer(HOST, t));
  await producer.sendBatch(['abc', 'de']);

  const info = await admin.describeTopic(t);
  assert.deepEqual(
    [info.earliestOffset, info.nextOffset, info.messageCount, info.sizeBytes],
    [1n, 3n, 2n, 5n],
  );
  assert.ok(info.oldestTimestamp instanceof Date);
  assert.deepEqual(info.settings, {
    retention: { value: 'forever', source: 'topic' },
    retentionBytes: { value: null, source: 'serverDefault' },
    maxMessageBytes: { value: 1000n, source: 'topic' },
  });
  // A consumer's describe() carries them too.
  assert.deepEqual((await tracked(new Consumer(HOST, t)).describe()).settings, info.settings);
  // The topic's own limit is enforced.
  await assert.rejects(producer.send(Buffer.alloc(1001)), hasCode(status.INVALID_ARGUMENT));

  const plain = await admin.createTopic(topic());
  assert.equal(plain.settings.retention.source, 'serverDefault');
  assert.deepEqual(plain.settings.maxMessageBytes, { value: 1024n * 1024n, source: 'serverDefault' });
});

test('update sets and resets only what it names', LIMIT, async () => {
  const t = topic();
  await admin.createTopic(t, { retention: { maxAgeMs: DAY_MS }, maxMessageBytes: 500 });

  let { settings } = await admin.updateTopic(t, { set: { retentionBytes: 4096 } });
  assert.deepEqual(settings, {
    retention: { value: { maxAgeMs: DAY_MS }, source: 'topic' },
    retentionBytes: { value: 4096n, source: 'topic' },
    maxMessageBytes: { value: 500n, source: 'topic' },
  });

  ({ settings } = await admin.updateTopic(t, { set: { retention: { maxAgeMs: 1500 } }, reset: ['maxMessageBytes'] }));
  assert.deepEqual(settings.retention, { value: { maxAgeMs: 1500 }, source: 'topic' });
  assert.deepEqual(settings.retentionBytes, { value: 4096n, source: 'topic' });
  assert.equal(settings.maxMessageBytes.source, 'serverDefault');
  assert.deepEqual((await admin.describeTopic(t)).settings, settings);
});

test('list goes through every page', LIMIT, async () => {
  const prefix = topic();
  const names = Array.from({ length: 7 }, (_, i) => `${prefix}-${i}`);
  for (const name of names) await admin.createTopic(name);

  const first = await admin.listTopicsPage({ pageSize: 2 });
  assert.equal(first.topics.length, 2);
  assert.ok(first.nextPageToken);

  const listed = (await admin.listTopics({ pageSize: 2 })).map((t) => t.name);
  assert.deepEqual(listed, [...listed].sort());
  assert.equal(new Set(listed).size, listed.length, 'no topic is listed twice');
  assert.deepEqual(listed.filter((name) => name.startsWith(prefix)), names);
});

test('delete answers the count, then the topic is gone; made again it starts at 1', LIMIT, async () => {
  const t = topic();
  await tracked(new Producer(HOST, t)).sendBatch(['a', 'b', 'c']);
  assert.equal(await admin.deleteTopic(t), 3n);

  await assert.rejects(admin.describeTopic(t), hasCode(status.NOT_FOUND, t));
  await assert.rejects(admin.deleteTopic(t), hasCode(status.NOT_FOUND, t));
  await assert.rejects(tracked(new Consumer(HOST, t)).poll(), hasCode(status.NOT_FOUND, t));
  assert.equal((await admin.createTopic(t)).nextOffset, 1n);
});

test('bad settings are refused naming the setting, and change nothing', LIMIT, async () => {
  const t = topic();
  const before = await admin.createTopic(t, { retention: { maxAgeMs: DAY_MS } });
  const cases = [
    [{ set: { retention: { maxAgeMs: 0 } } }, 'retention'],
    [{ set: { retention: { maxAgeMs: -5000 } } }, 'retention'],
    [{ set: { retentionBytes: 0 } }, 'retention_bytes'],
    [{ set: { maxMessageBytes: 0 } }, 'max_message_bytes'],
    [{ set: { maxMessageBytes: 1n << 40n } }, 'max_message_bytes'],
    [{ set: { retentionBytes: 10 }, reset: ['retentionBytes'] }, 'retention_bytes'],
    [{ reset: ['size'] }, 'size'],
  ];
  for (const [change, named] of cases) {
    await assert.rejects(admin.updateTopic(t, change), hasCode(status.INVALID_ARGUMENT, named));
    if (!change.reset) {
      const fresh = `${t}-new`;
      await assert.rejects(admin.createTopic(fresh, change.set), hasCode(status.INVALID_ARGUMENT, named));
      await assert.rejects(admin.describeTopic(fresh), hasCode(status.NOT_FOUND));
    }
  }
  assert.deepEqual((await admin.describeTopic(t)).settings, before.settings);

  // What cannot be sent is refused before it is, naming the setting.
  await assert.rejects(admin.createTopic(t, { retentionBytes: -1 }), (e) => e instanceof RangeError && /retentionBytes/.test(e.message));
  await assert.rejects(admin.createTopic(t, { maxMessageBytes: 1.5 }), /maxMessageBytes/);
  await assert.rejects(admin.createTopic(t, { retention: 3600 }), /retention/);
});
