// Statuses become the client's errors (no server needed): DATA_LOSS carries
// the damaged offsets from its trailers.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import grpc from '@grpc/grpc-js';
import { DataLossError, NextOffsetMismatchError, SequenceOutOfOrderError, fromServiceError, status } from 'minikafka-client';

const MESSAGE =
  "topic 'orders': offsets 17..=20 are damaged on disk and cannot be read; the first good offset after them is 21";

/** A failed call as grpc-js rejects with it: a ServiceError with trailers. */
function serviceError(code, details, trailers) {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata });
}

test('DATA_LOSS carries the offsets of its trailers', () => {
  const error = fromServiceError(
    serviceError(status.DATA_LOSS, MESSAGE, {
      'minikafka-damaged-first-offset': '17',
      'minikafka-next-good-offset': '21',
    }),
  );
  assert.ok(error instanceof DataLossError);
  assert.equal(error.firstOffset, 17n);
  assert.equal(error.nextGoodOffset, 21n);
  assert.equal(error.code, status.DATA_LOSS);
  assert.equal(error.details, MESSAGE);
  assert.equal(error.message, `${status.DATA_LOSS} DATA_LOSS: ${MESSAGE}`);
});

test('DATA_LOSS without both offsets, and other codes, stay as they are', () => {
  for (const trailers of [{}, { 'minikafka-damaged-first-offset': '17' }, { 'minikafka-damaged-first-offset': 'x', 'minikafka-next-good-offset': '21' }]) {
    const original = serviceError(status.DATA_LOSS, MESSAGE, trailers);
    assert.equal(fromServiceError(original), original);
  }
  const notFound = serviceError(status.NOT_FOUND, "topic 'x' not found", {});
  assert.equal(fromServiceError(notFound), notFound);
});

test('FAILED_PRECONDITION carries the expected sequence or the next offset of its trailer', () => {
  const outOfOrder = fromServiceError(
    serviceError(status.FAILED_PRECONDITION, 'sequence 9 is out of order', { 'minikafka-expected-sequence': '4' }),
  );
  assert.ok(outOfOrder instanceof SequenceOutOfOrderError);
  assert.equal(outOfOrder.expectedSequence, 4n);
  assert.equal(outOfOrder.code, status.FAILED_PRECONDITION);
  const mismatch = fromServiceError(
    serviceError(status.FAILED_PRECONDITION, 'expected next offset 3', { 'minikafka-next-offset': '8' }),
  );
  assert.ok(mismatch instanceof NextOffsetMismatchError);
  assert.equal(mismatch.nextOffset, 8n);
  assert.equal(mismatch.message, `${status.FAILED_PRECONDITION} FAILED_PRECONDITION: expected next offset 3`);
  const readOnly = serviceError(status.FAILED_PRECONDITION, 'read-only', {});
  assert.equal(fromServiceError(readOnly), readOnly);
});
