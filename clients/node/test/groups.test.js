// Consumer groups and reads from a time against a running mkfk-server
// (started by the caller): MINIKAFKA_TEST_HOST=127.0.0.1:9999 npm test

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

const admin = new Admin(HOST, { timeoutMs: 10_000 });
after(() => admin.close());

test('a group consumer resumes at its commit, and auto-commit commits what polls returned', LIMIT, async () => {
  const topic = `node-groups-${randomUUID()}`;
  const group = `node-${randomUUID()}`;
  const producer = new Producer(HOST, topic);
  await producer.sendBatch(Array.from({ length: 10 }, (_, i) => `m${i + 1}`));
  producer.close();

  const first = new Consumer(HOST, topic, { group });
  const polled = await first.poll({ maxMessages: 4 });
  assert.deepEqual(polled.messages.map((m) => m.offset), [1n, 2n, 3n, 4n]);
  await first.commit();
  await first.close();
  assert.equal((await admin.fetchOffset(group, topic)).offset, 5n, 'the next offset to read');

  const second = new Consumer(HOST, topic, { group, autoCommitMs: 0 });
  assert.equal((await second.poll({ maxMessages: 4 })).messages[0].offset, 5n);
  await second.poll({ maxMessages: 4 });
  assert.equal((await admin.fetchOffset(group, topic)).offset, 9n);
  await second.close();
  assert.equal((await admin.fetchOffset(group, topic)).offset, 11n, 'close commits');

  const info = await admin.describeGroup(group);
  assert.deepEqual(info.topics.map((t) => [t.topic, t.lag, t.oldestUnreadAgeMs]), [[topic, 0n, null]]);
  assert.ok((await admin.listGroups()).includes(group));
  await admin.commitOffset(group, topic, 3n, { metadata: 'rewound' });
  const rewound = (await admin.describeGroup(group)).topics[0];
  assert.equal(rewound.lag, 8n);
  assert.equal(rewound.commit.metadata, 'rewound');
  assert.ok(rewound.oldestUnreadAgeMs >= 0);
  await assert.rejects(admin.commitOffset(group, topic, 12n), (error) => error.code === status.OUT_OF_RANGE);
  assert.equal(await admin.deleteGroup(group), 1n);
  await assert.rejects(admin.describeGroup(group), (error) => error.code === status.NOT_FOUND);
  assert.equal(await admin.fetchOffset(group, topic), null);
});

test('reads start at a time', LIMIT, async () => {
  const topic = `node-time-${randomUUID()}`;
  const producer = new Producer(HOST, topic);
  await producer.send('old');
  producer.close();
  const future = new Date(Date.now() + 86_400_000);
  const past = new Date(Date.now() - 86_400_000);
  assert.equal(await admin.offsetForTime(topic, future), 2n, 'after every message: the end');
  assert.equal(await admin.offsetForTime(topic, past), 1n);
  const consumer = new Consumer(HOST, topic, { start: past });
  assert.deepEqual((await consumer.poll()).messages.map((m) => m.payload.toString()), ['old']);
  await consumer.close();
});
