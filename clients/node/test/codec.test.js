// uint64 values survive the wire format exactly (no server needed).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { protoPackage } from 'minikafka-client';

test('uint64 offsets keep every digit through serialization', () => {
  const { Poll } = protoPackage().MiniKafka.service;
  const max = '18446744073709551615';
  const request = Poll.requestDeserialize(Poll.requestSerialize({ topic: 't', read_from: max }));
  assert.equal(request.read_from, max);
  const reply = Poll.responseDeserialize(
    Poll.responseSerialize({ new_read_from: '9007199254740993', next_offset: max, messages: [{ offset: '9007199254740993' }] }),
  );
  assert.equal(BigInt(reply.messages[0].offset), 2n ** 53n + 1n);
  assert.equal(BigInt(reply.next_offset), 2n ** 64n - 1n);
});
