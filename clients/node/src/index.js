// minikafka-client: a small Node.js client for minikafka (minikafka.v1.MiniKafka).
//
// The .proto file is loaded at run time with @grpc/proto-loader; uint64
// offsets travel as decimal strings and are exposed as BigInt, so no offset
// loses precision. Failed calls reject with the grpc-js ServiceError, whose
// `.code` is one of `status` (re-exported here) and `.details` the server's
// message; a read that reaches records damaged on the server's disk rejects
// with a DataLossError carrying the offsets, and a refused idempotent or
// conditional produce with a SequenceOutOfOrderError or a
// NextOffsetMismatchError carrying the number from the status's trailer.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

export const status = grpc.status;

/** The server used when neither an argument nor MINIKAFKA_HOST names one. */
export const DEFAULT_HOST = '127.0.0.1:9999';
/** The deadline of each call, unless `timeoutMs` says otherwise. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Trailer of a DATA_LOSS status: the first offset that cannot be read. */
export const DAMAGED_FIRST_OFFSET = 'minikafka-damaged-first-offset';
/** Trailer of a DATA_LOSS status: the first readable offset after the damage. */
export const NEXT_GOOD_OFFSET = 'minikafka-next-good-offset';
/** Trailer of a FAILED_PRECONDITION status: the sequence the server expects next from the producer. */
export const EXPECTED_SEQUENCE = 'minikafka-expected-sequence';
/** Trailer of a FAILED_PRECONDITION status: the topic's actual next offset. */
export const NEXT_OFFSET = 'minikafka-next-offset';
/** How long an idempotent producer retries a batch, unless `retryForMs` says otherwise. */
export const DEFAULT_RETRY_FOR_MS = 30_000;
/** The .proto file, relative to the proto root. */
const PROTO_FILE = 'minikafka/v1/minikafka.proto';
const MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

/**
 * @typedef {{name: string, value: Buffer}} Header
 * @typedef {{offset: bigint, timestamp: Date, payload: Buffer, key: Buffer, headers: Header[]}} Message
 * @typedef {Buffer | Uint8Array | string} Bytes  strings are sent as UTF-8
 * @typedef {{payload: Bytes, key?: Bytes,
 *   headers?: Iterable<{name: string, value: Bytes} | [string, Bytes]>}} Record
 * @typedef {{first: bigint, last: bigint}} Range  offsets first..last, inclusive
 * @typedef {{messages: Message[], gap: Range | null}} Polled
 * @typedef {'forever' | {maxAgeMs: number}} Retention
 * @typedef {{retention?: Retention, retentionBytes?: bigint | number,
 *   maxMessageBytes?: bigint | number}} TopicSettings
 * @typedef {'retention' | 'retentionBytes' | 'maxMessageBytes'} SettingName
 * @typedef {'serverDefault' | 'topic'} SettingSource
 * @typedef {{offset: bigint, time: Date | null, metadata: string}} Commit  offset: the next to read
 * @typedef {{topic: string, commit: Commit, nextOffset: bigint, earliestOffset: bigint, lag: bigint,
 *   oldestUnreadAgeMs: number | null, expiredUnread: bigint}} GroupTopic
 * @typedef {{name: string, topics: GroupTopic[]}} GroupInfo
 * @typedef {{retention: {value: Retention, source: SettingSource},
 *   retentionBytes: {value: bigint | null, source: SettingSource},
 *   maxMessageBytes: {value: bigint, source: SettingSource}}} EffectiveSettings
 * @typedef {{name: string, earliestOffset: bigint, nextOffset: bigint,
 *   messageCount: bigint, sizeBytes: bigint, oldestTimestamp: Date | null,
 *   settings: EffectiveSettings | null}} TopicInfo
 * @typedef {{topics: TopicInfo[], nextPageToken: string}} TopicPage
 * @typedef {'earliest' | 'end' | bigint | number} Start
 */

/**
 * A failed call whose status's trailers carry numbers, shaped like a grpc-js
 * ServiceError: `code`, `details` (the server's message) and `metadata`
 * (the trailers).
 */
class TrailerError extends Error {
  /**
   * @param {grpc.status} code @param {string} details
   * @param {grpc.Metadata} metadata the status's trailers
   */
  constructor(code, details, metadata) {
    super(`${code} ${status[code]}: ${details}`);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
    this.metadata = metadata;
  }
}

/**
 * A read reached records damaged on the server's disk (DATA_LOSS). The
 * messages before them were returned; offsets `firstOffset` up to
 * `nextGoodOffset - 1n` cannot be. To accept the loss and go on, set the
 * consumer's `position` to `nextGoodOffset`.
 */
export class DataLossError extends TrailerError {
  /**
   * @param {string} details the server's message, naming the topic and offsets
   * @param {bigint} firstOffset @param {bigint} nextGoodOffset
   * @param {grpc.Metadata} metadata the status's trailers
   */
  constructor(details, firstOffset, nextGoodOffset, metadata) {
    super(status.DATA_LOSS, details, metadata);
    this.firstOffset = firstOffset;
    this.nextGoodOffset = nextGoodOffset;
  }
}

/**
 * An idempotent batch whose sequence the server did not expect from its
 * producer (FAILED_PRECONDITION): it skipped ahead, or is older than the
 * batches the server remembers. Nothing was stored. `expectedSequence` is
 * the sequence the server expects next.
 */
export class SequenceOutOfOrderError extends TrailerError {
  /**
   * @param {string} details the server's message
   * @param {bigint} expectedSequence
   * @param {grpc.Metadata} metadata the status's trailers
   */
  constructor(details, expectedSequence, metadata) {
    super(status.FAILED_PRECONDITION, details, metadata);
    this.expectedSequence = expectedSequence;
  }
}

/**
 * A conditional produce (`expectedNextOffset`) refused because the topic's
 * next offset was another (FAILED_PRECONDITION). Nothing was stored;
 * `nextOffset` is the topic's actual next offset.
 */
export class NextOffsetMismatchError extends TrailerError {
  /**
   * @param {string} details the server's message
   * @param {bigint} nextOffset
   * @param {grpc.Metadata} metadata the status's trailers
   */
  constructor(details, nextOffset, metadata) {
    super(status.FAILED_PRECONDITION, details, metadata);
    this.nextOffset = nextOffset;
  }
}

/**
 * The error a failed call rejects with: the one place statuses are
 * converted. A DATA_LOSS carrying its offsets in its trailers becomes a
 * DataLossError, a FAILED_PRECONDITION with a sequence or next-offset
 * trailer a SequenceOutOfOrderError or NextOffsetMismatchError; any other
 * error is returned as it is.
 * @param {any} error a grpc-js ServiceError (or anything else thrown)
 * @returns {any}
 */
export function fromServiceError(error) {
  if (!(error?.metadata instanceof grpc.Metadata)) return error;
  const number = (/** @type {string} */ key) => {
    const [value] = error.metadata.get(key);
    return typeof value === 'string' && /^[0-9]+$/.test(value) ? BigInt(value) : null;
  };
  if (error.code === status.DATA_LOSS) {
    const first = number(DAMAGED_FIRST_OFFSET);
    const next = number(NEXT_GOOD_OFFSET);
    if (first !== null && next !== null) return new DataLossError(error.details, first, next, error.metadata);
  }
  if (error.code === status.FAILED_PRECONDITION) {
    const expected = number(EXPECTED_SEQUENCE);
    if (expected !== null) return new SequenceOutOfOrderError(error.details, expected, error.metadata);
    const next = number(NEXT_OFFSET);
    if (next !== null) return new NextOffsetMismatchError(error.details, next, error.metadata);
  }
  return error;
}

/** This package's directory. */
const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Where the .proto files are: MINIKAFKA_PROTO_DIR if set; else the copy
 * packed inside the package (`npm pack` puts it there); else, in a
 * checkout of the repository, its proto/ directory.
 */
export function protoRoot() {
  if (process.env.MINIKAFKA_PROTO_DIR) return process.env.MINIKAFKA_PROTO_DIR;
  const packed = path.join(PACKAGE_DIR, 'proto');
  return existsSync(path.join(packed, PROTO_FILE)) ? packed : path.resolve(PACKAGE_DIR, '../../proto');
}

/** @type {any} */
let loaded;

/** The minikafka.v1 package, loaded once, on first use. */
export function protoPackage() {
  if (!loaded) {
    const root = protoRoot();
    const definition = protoLoader.loadSync(path.join(root, PROTO_FILE), {
      keepCase: true,
      longs: String,
      enums: String,
      bytes: Buffer,
      defaults: true,
      oneofs: true,
      includeDirs: [root],
    });
    loaded = /** @type {any} */ (grpc.loadPackageDefinition(definition)).minikafka.v1;
  }
  return loaded;
}

/**
 * An interceptor that sends `token` on every call and stream, as
 * `authorization: Bearer <token>` (as the Rust client does). grpc-js refuses
 * call credentials on an insecure channel, hence an interceptor.
 * @param {string} token @returns {grpc.Interceptor}
 */
function sendingToken(token) {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}

/**
 * A client of `host` (default MINIKAFKA_HOST, then DEFAULT_HOST) that sends
 * `token` (default MINIKAFKA_TOKEN; empty: none) to a server with tokens,
 * with the caller's `interceptors` after the token's.
 * @param {string | undefined} host @param {string | undefined} token
 * @param {grpc.Interceptor[]} [interceptors]
 */
function connect(host, token, interceptors = []) {
  const address = host || process.env.MINIKAFKA_HOST || DEFAULT_HOST;
  const sent = token ?? process.env.MINIKAFKA_TOKEN;
  return new (protoPackage().MiniKafka)(address, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
    interceptors: [...(sent ? [sendingToken(sent)] : []), ...interceptors],
  });
}

/**
 * Calls a unary method as a promise, with a deadline `timeoutMs` from now.
 * @param {any} client @param {string} method @param {object} request @param {number} timeoutMs
 * @returns {Promise<any>}
 */
function unary(client, method, request, timeoutMs) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + timeoutMs }, (/** @type {any} */ error, /** @type {any} */ reply) =>
      error ? reject(fromServiceError(error)) : resolve(reply),
    );
  });
}

/** @param {{seconds: string, nanos: number} | null} timestamp */
function toDate(timestamp) {
  return timestamp ? new Date(Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1e6)) : null;
}

/** @param {Date} date @returns {{seconds: string, nanos: number}} a Timestamp */
function toTimestamp(date) {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1e6 };
}

/** @param {any} commit the reply's OffsetCommit @returns {Commit} */
function toCommit(commit) {
  return { offset: BigInt(commit.offset), time: toDate(commit.commit_time), metadata: commit.metadata };
}

/** @param {any} t the reply's GroupTopic @returns {GroupTopic} */
function toGroupTopic(t) {
  return {
    topic: t.topic,
    commit: toCommit(t.commit),
    nextOffset: BigInt(t.next_offset),
    earliestOffset: BigInt(t.earliest_offset),
    lag: BigInt(t.lag),
    oldestUnreadAgeMs: t.oldest_unread_age
      ? Number(t.oldest_unread_age.seconds) * 1000 + Math.floor(t.oldest_unread_age.nanos / 1e6)
      : null,
    expiredUnread: BigInt(t.expired_unread),
  };
}

/** @param {number} ms @returns {{seconds: string, nanos: number}} a Duration, signs alike */
function toDuration(ms) {
  const seconds = Math.trunc(ms / 1000);
  return { seconds: String(seconds), nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** @param {any} source @returns {SettingSource} */
function toSource(source) {
  return source === 'SETTING_SOURCE_TOPIC' ? 'topic' : 'serverDefault';
}

/** @param {any} s the reply's EffectiveSettings @returns {EffectiveSettings | null} */
function toEffectiveSettings(s) {
  if (!s?.retention) return null; // a server older than topic settings
  const { retention } = s;
  const age = retention.retention === 'max_age' ? retention.max_age : null;
  return {
    retention: {
      value: age ? { maxAgeMs: Number(age.seconds) * 1000 + age.nanos / 1e6 } : 'forever',
      source: toSource(s.retention_source),
    },
    retentionBytes: {
      value: s.retention_bytes == null ? null : BigInt(s.retention_bytes),
      source: toSource(s.retention_bytes_source),
    },
    maxMessageBytes: { value: BigInt(s.max_message_bytes), source: toSource(s.max_message_bytes_source) },
  };
}

/** @param {any} t the reply's TopicInfo @returns {TopicInfo} */
function toTopicInfo(t) {
  return {
    name: t.name,
    earliestOffset: BigInt(t.earliest_offset),
    nextOffset: BigInt(t.next_offset),
    messageCount: BigInt(t.message_count),
    sizeBytes: BigInt(t.size_bytes),
    oldestTimestamp: toDate(t.oldest_timestamp),
    settings: toEffectiveSettings(t.settings),
  };
}

/**
 * A size setting as the API's uint64 (a decimal string), or undefined when
 * absent. A negative or fractional one cannot be sent: refused here, naming it.
 * @param {string} name @param {bigint | number | undefined} value
 */
function toSize(name, value) {
  if (value === undefined || value === null) return undefined;
  if ((typeof value !== 'bigint' && !Number.isInteger(value)) || value < 0) {
    throw new RangeError(`${name}: must be a positive whole number of bytes, not ${String(value)}`);
  }
  return String(value);
}

/** @param {TopicSettings} settings @returns {object} the request's TopicSettings */
function toSettingsMessage(settings = {}) {
  const { retention } = settings;
  let message = null;
  if (retention === 'forever') message = { forever: true };
  else if (retention !== undefined && retention !== null) {
    if (typeof retention?.maxAgeMs !== 'number' || !Number.isFinite(retention.maxAgeMs)) {
      throw new TypeError(`retention: 'forever' or { maxAgeMs: <number> }, not ${JSON.stringify(retention)}`);
    }
    message = { max_age: toDuration(retention.maxAgeMs) };
  }
  return {
    retention: message,
    retention_bytes: toSize('retentionBytes', settings.retentionBytes),
    max_message_bytes: toSize('maxMessageBytes', settings.maxMessageBytes),
  };
}

/** The API's name of each setting; other names go to the server as they are, which refuses them. */
const SETTING_NAMES = { retention: 'retention', retentionBytes: 'retention_bytes', maxMessageBytes: 'max_message_bytes' };

/** @param {any} m @returns {Message} */
function toMessage(m) {
  return {
    offset: BigInt(m.offset),
    timestamp: /** @type {Date} */ (toDate(m.timestamp)),
    payload: m.payload,
    key: m.key,
    // The server refuses names that are not UTF-8; any such would read with U+FFFD.
    headers: m.headers.map((/** @type {any} */ h) => ({ name: h.name.toString('utf8'), value: h.value })),
  };
}

/** @param {Bytes} payload */
function toBytes(payload) {
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
}

/** @param {Record} record @returns {object} the request's Record */
function toRecord(record) {
  return {
    payload: toBytes(record.payload),
    key: toBytes(record.key ?? ''),
    headers: Array.from(record.headers ?? [], (header) => {
      const [name, value] = Array.isArray(header) ? header : [header.name, header.value];
      return { name: Buffer.from(name, 'utf8'), value: toBytes(value) };
    }),
  };
}

/** The answers after which a batch may be stored and a retry may get an answer. */
const TRANSIENT = new Set([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);
/** The refusals that come before anything is stored: the sequence stays unused. */
const STORED_NOTHING = new Set([
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.FAILED_PRECONDITION,
  status.OUT_OF_RANGE,
  status.PERMISSION_DENIED,
  status.UNAUTHENTICATED,
]);

/**
 * The lanes of an idempotent producer that no request is using. A lane is
 * a producer id (random) and the sequence its next batch gets; each request
 * in flight has its own, so concurrent sends never wait on each other's
 * order. A lane whose batch ended in an unknown outcome is dropped, so its
 * sequence never numbers other data; a new one gets a fresh id, which the
 * server accepts at any sequence.
 */
class Lanes {
  /** @type {{producerId: bigint, nextSequence: bigint}[]} */
  idle = [];

  take() {
    return this.idle.pop() ?? { producerId: randomBytes(8).readBigUInt64LE() || 1n, nextSequence: 0n };
  }

  /**
   * Gives the lane back after its batch was stored (the next batch takes
   * the next sequence) or refused before anything was stored (it takes the
   * same); drops it when the outcome is unknown or the server disagrees
   * with its sequence.
   * @param {{producerId: bigint, nextSequence: bigint}} lane @param {any} error
   */
  finish(lane, error) {
    if (error === null) lane.nextSequence += 1n;
    else if (error instanceof SequenceOutOfOrderError || !STORED_NOTHING.has(error?.code)) return;
    this.idle.push(lane);
  }
}

/**
 * Appends messages to one topic. A plain producer sends each batch once: a
 * send that fails with UNAVAILABLE or DEADLINE_EXCEEDED may still have been
 * stored. An idempotent one (`idempotent: true`) sends each batch with a
 * producer id (random) and a sequence number, and retries such a failure
 * with the same sequence until `retryForMs` runs out: the server stores the
 * batch once and answers a retry with the original offsets (docs/api.md
 * says exactly when a retry can still store it twice).
 */
export class Producer {
  #client;
  #timeoutMs;
  #retryForMs;
  /** @type {Lanes | null} */
  #lanes;

  /**
   * @param {string | undefined} host `host:port`; default MINIKAFKA_HOST or 127.0.0.1:9999
   * @param {string} topic created by the first message sent
   * @param {{timeoutMs?: number, token?: string, idempotent?: boolean, retryForMs?: number,
   *   interceptors?: grpc.Interceptor[]}} [options] the deadline of each call; the token for
   *   a server with tokens (default MINIKAFKA_TOKEN); safe retries, and for how long;
   *   grpc-js interceptors for every call (tracing, say)
   */
  constructor(
    host,
    topic,
    { timeoutMs = DEFAULT_TIMEOUT_MS, token, idempotent = false, retryForMs = DEFAULT_RETRY_FOR_MS, interceptors } = {},
  ) {
    this.topic = topic;
    this.#client = connect(host, token, interceptors);
    this.#timeoutMs = timeoutMs;
    this.#retryForMs = retryForMs;
    this.#lanes = idempotent ? new Lanes() : null;
  }

  /**
   * Stores one message.
   * @param {Bytes} payload strings are sent as UTF-8
   * @returns {Promise<bigint>} its offset
   */
  async send(payload) {
    return (await this.sendBatch([payload])).first;
  }

  /**
   * Stores the payloads atomically, with consecutive offsets. With
   * `expectedNextOffset`, a conditional append: nothing is stored, and it
   * rejects with a NextOffsetMismatchError, unless the topic's next offset
   * is that one (1n for a topic that does not exist).
   * @param {Iterable<Bytes>} payloads at least one
   * @param {{expectedNextOffset?: bigint | number}} [options]
   * @returns {Promise<Range>}
   */
  async sendBatch(payloads, { expectedNextOffset } = {}) {
    return this.#produce({ payloads: Array.from(payloads, toBytes) }, expectedNextOffset);
  }

  /**
   * Stores one message with its key and headers.
   * @param {Record} record
   * @returns {Promise<bigint>} its offset
   */
  async sendRecord(record) {
    return (await this.sendRecords([record])).first;
  }

  /**
   * Stores the records atomically, as sendBatch does payloads.
   * @param {Iterable<Record>} records at least one
   * @param {{expectedNextOffset?: bigint | number}} [options]
   * @returns {Promise<Range>}
   */
  async sendRecords(records, { expectedNextOffset } = {}) {
    return this.#produce({ records: Array.from(records, toRecord) }, expectedNextOffset);
  }

  /**
   * @param {object} messages the request's payloads or records
   * @param {bigint | number | undefined} expectedNextOffset
   * @returns {Promise<Range>}
   */
  async #produce(messages, expectedNextOffset) {
    /** @type {any} */
    const request = { topic: this.topic, ...messages };
    if (expectedNextOffset !== undefined) request.expected_next_offset = String(expectedNextOffset);
    if (this.#lanes === null) return this.#call(request);
    const lane = this.#lanes.take();
    request.producer_id = lane.producerId.toString();
    request.sequence = lane.nextSequence.toString();
    const giveUp = Date.now() + this.#retryForMs;
    let waitMs = 20;
    for (;;) {
      try {
        const range = await this.#call(request);
        this.#lanes.finish(lane, null);
        return range;
      } catch (error) {
        if (!TRANSIENT.has(/** @type {any} */ (error)?.code) || Date.now() + waitMs > giveUp) {
          this.#lanes.finish(lane, error);
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, waitMs));
        waitMs = Math.min(2 * waitMs, 1000);
      }
    }
  }

  /** @param {object} request @returns {Promise<Range>} */
  async #call(request) {
    const reply = await unary(this.#client, 'Produce', request, this.#timeoutMs);
    return { first: BigInt(reply.first_offset), last: BigInt(reply.last_offset) };
  }

  /** Closes the connection. */
  close() {
    this.#client.close();
  }
}

/**
 * Reads one topic from a position it keeps, or, as a `group`, from the
 * position the server keeps for the group: commit() stores the position
 * after the messages returned so far; with `autoCommitMs` a poll commits
 * when that long has passed since the last commit, and close() commits
 * (at-least-once: only messages already returned are committed).
 */
export class Consumer {
  #client;
  #timeoutMs;
  #position = 0n;
  /** Start at the end, until the position is known. */
  #fromEnd = false;
  /** Where the first read starts when the server resolves it (a time, a group's position). */
  #start = null;
  #group = null;
  #autoCommitMs = null;
  /** The position last committed, and when (Date.now()). */
  #committed = null;
  /** Open subscriptions, cancelled by close(). */
  #calls = new Set();
  #closed = false;

  /**
   * @param {string | undefined} host `host:port`; default MINIKAFKA_HOST or 127.0.0.1:9999
   * @param {string} topic
   * @param {{start?: Start, timeoutMs?: number, token?: string, group?: string, autoCommitMs?: number}} [options]
   *   `start`: 'earliest' (the default, also 0n), 'end' (only messages stored from now on), an
   *   offset, or a Date (the first message stored at or after it); `token`: for a server with
   *   tokens (default MINIKAFKA_TOKEN); `group`: start at the group's committed position
   *   (where it has none: the earliest, or the end with start 'end') and commit for it
   */
  constructor(host, topic, { start = 'earliest', timeoutMs = DEFAULT_TIMEOUT_MS, token, group, autoCommitMs } = {}) {
    this.topic = topic;
    this.#client = connect(host, token);
    this.#timeoutMs = timeoutMs;
    if (start instanceof Date) this.#start = { time: toTimestamp(start) };
    else if (start === 'end') this.#fromEnd = true;
    else if (start !== 'earliest') this.#position = BigInt(start);
    if (group !== undefined) {
      this.#start = { group: { group, no_commit: this.#fromEnd ? 'NO_COMMIT_END' : 'NO_COMMIT_EARLIEST' } };
      this.#fromEnd = false;
      this.#position = 0n;
      this.#group = group;
    }
    this.#autoCommitMs = autoCommitMs ?? null;
  }

  /** The start position to send while the position is not known yet. */
  #startRequest() {
    return this.#position === 0n ? this.#start : null;
  }

  /**
   * Commits the position for the consumer's group: a restart then reads on
   * after every message returned so far. Rejects without a group.
   * @returns {Promise<void>}
   */
  async commit() {
    if (this.#group === null) throw new Error('this consumer has no group to commit for: pass { group }');
    if (this.#position === 0n || this.#committed?.offset === this.#position) return;
    const offset = this.#position;
    const request = { group: this.#group, topic: this.topic, offset: offset.toString() };
    await unary(this.#client, 'CommitOffset', request, this.#timeoutMs);
    this.#committed = { offset, at: Date.now() };
  }

  /**
   * The offset the next read starts from: save it to resume later. 0n means
   * the earliest retained message (and, with start 'end', that the position
   * is not known yet).
   */
  get position() {
    return this.#position;
  }

  set position(offset) {
    this.#position = BigInt(offset);
    this.#fromEnd = false;
  }

  /**
   * Reads the next messages and moves past them. Without `waitMs` it answers
   * at once (NOT_FOUND for a topic that does not exist); with it, the server
   * holds the call until a message is stored or the wait (capped at 30 s)
   * runs out.
   * @param {{waitMs?: number, maxMessages?: number, maxBytes?: number}} [options]
   *   limits: 0 for the server's defaults (1,000 messages, 1 MiB)
   * @returns {Promise<Polled>}
   */
  async poll({ waitMs = 0, maxMessages = 0, maxBytes = 0 } = {}) {
    if (this.#autoCommitMs !== null && (this.#committed === null || Date.now() - this.#committed.at >= this.#autoCommitMs)) {
      await this.commit();
    }
    if (this.#fromEnd) {
      try {
        this.#position = (await this.describe()).nextOffset;
      } catch (error) {
        if (/** @type {any} */ (error).code !== status.NOT_FOUND) throw error;
        this.#position = 1n;
      }
      this.#fromEnd = false;
    }
    const readFrom = this.#position;
    const request = {
      topic: this.topic,
      read_from: readFrom.toString(),
      max_messages: maxMessages,
      max_bytes: maxBytes,
      max_wait: waitMs > 0 ? toDuration(waitMs) : null,
      start: this.#startRequest(),
    };
    const reply = await unary(this.#client, 'Poll', request, this.#timeoutMs + waitMs);
    const earliest = BigInt(reply.earliest_offset);
    const gap = readFrom !== 0n && earliest > readFrom ? { first: readFrom, last: earliest - 1n } : null;
    this.#position = BigInt(reply.new_read_from);
    return { messages: reply.messages.map(toMessage), gap };
  }

  /**
   * Follows the topic from this consumer's position: messages pushed by the
   * server as they are stored (a topic that does not exist yet is waited
   * for). `position` moves past each message yielded. Ending the loop early
   * cancels the call; a server shutting down ends it with UNAVAILABLE:
   * subscribe again to continue from `position`; close() ends it quietly.
   * A jump in offsets means retention removed the messages in between.
   * @param {{maxBatch?: number}} [options] the most messages per pushed batch
   * @returns {AsyncGenerator<Message, void, undefined>}
   */
  async *subscribe({ maxBatch = 0 } = {}) {
    const call = this.#client.Subscribe({
      topic: this.topic,
      read_from: this.#position.toString(),
      max_batch: maxBatch,
      from_end: this.#fromEnd,
      start: this.#startRequest(),
    });
    call.on('error', () => {}); // the loop below gets errors; this catches a late CANCELLED
    this.#calls.add(call);
    try {
      for await (const batch of call) {
        for (const m of batch.messages) {
          const message = toMessage(m);
          this.position = message.offset + 1n;
          yield message;
        }
      }
    } catch (error) {
      // close() ends a subscription quietly; anything else is the caller's.
      if (!(this.#closed && /** @type {any} */ (error).code === status.CANCELLED)) throw fromServiceError(error);
    } finally {
      this.#calls.delete(call);
      call.cancel();
    }
  }

  /**
   * Describes the topic (NOT_FOUND if it does not exist).
   * @returns {Promise<TopicInfo>}
   */
  async describe() {
    return toTopicInfo(await unary(this.#client, 'DescribeTopic', { topic: this.topic }, this.#timeoutMs));
  }

  /**
   * Ends open subscriptions and closes the connection; with `autoCommitMs`,
   * commits first (await it to know the commit is stored).
   * @returns {Promise<void>}
   */
  async close() {
    try {
      if (this.#autoCommitMs !== null && !this.#closed) await this.commit();
    } finally {
      this.#closed = true;
      for (const call of this.#calls) call.cancel();
      this.#client.close();
    }
  }
}

/**
 * Topic administration: creating, configuring, deleting and listing topics,
 * as the Rust client's Admin does. Failed calls reject with the ServiceError
 * (`code`: NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT naming the setting,
 * UNAUTHENTICATED without a token for a server with tokens, PERMISSION_DENIED
 * when the token may not, ...).
 */
export class Admin {
  #client;
  #timeoutMs;

  /**
   * @param {string | undefined} host `host:port`; default MINIKAFKA_HOST or 127.0.0.1:9999
   * @param {{timeoutMs?: number, token?: string}} [options] the deadline of
   *   each call; the token for a server with tokens (default MINIKAFKA_TOKEN;
   *   creating, updating and deleting need an admin token)
   */
  constructor(host, { timeoutMs = DEFAULT_TIMEOUT_MS, token } = {}) {
    this.#client = connect(host, token);
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Creates a topic; absent settings follow the server's defaults. The same
   * again succeeds; with other settings it rejects with ALREADY_EXISTS.
   * @param {string} name @param {TopicSettings} [settings]
   * @returns {Promise<TopicInfo>}
   */
  async createTopic(name, settings = {}) {
    const request = { topic: name, settings: toSettingsMessage(settings) };
    return toTopicInfo(await unary(this.#client, 'CreateTopic', request, this.#timeoutMs));
  }

  /**
   * Sets the settings present in `set` and returns those named in `reset`
   * to the server's default; the others stay.
   * @param {string} name
   * @param {{set?: TopicSettings, reset?: Iterable<SettingName>}} [change]
   * @returns {Promise<TopicInfo>} the topic after the change
   */
  async updateTopic(name, { set = {}, reset = [] } = {}) {
    const request = {
      topic: name,
      settings: toSettingsMessage(set),
      reset: Array.from(reset, (setting) => SETTING_NAMES[setting] ?? setting),
    };
    return toTopicInfo(await unary(this.#client, 'UpdateTopic', request, this.#timeoutMs));
  }

  /**
   * Deletes a topic and every message in it. Created again, it starts at offset 1.
   * @param {string} name
   * @returns {Promise<bigint>} how many messages it held
   */
  async deleteTopic(name) {
    const reply = await unary(this.#client, 'DeleteTopic', { topic: name }, this.#timeoutMs);
    return BigInt(reply.messages_deleted);
  }

  /**
   * One topic, with its effective settings and their sources (NOT_FOUND if
   * it does not exist).
   * @param {string} name
   * @returns {Promise<TopicInfo>}
   */
  async describeTopic(name) {
    return toTopicInfo(await unary(this.#client, 'DescribeTopic', { topic: name }, this.#timeoutMs));
  }

  /**
   * One page of topics, sorted by name.
   * @param {{pageSize?: number, pageToken?: string}} [options] `pageSize`: 0
   *   for the server's default (1,000); `pageToken`: a previous page's
   *   `nextPageToken`, '' for the first page
   * @returns {Promise<TopicPage>} `nextPageToken` is '' on the last page
   */
  async listTopicsPage({ pageSize = 0, pageToken = '' } = {}) {
    const request = { page_size: pageSize, page_token: pageToken };
    const reply = await unary(this.#client, 'ListTopics', request, this.#timeoutMs);
    return { topics: reply.topics.map(toTopicInfo), nextPageToken: reply.next_page_token };
  }

  /**
   * Every topic, sorted by name, fetched `pageSize` at a time.
   * @param {{pageSize?: number}} [options]
   * @returns {Promise<TopicInfo[]>}
   */
  async listTopics({ pageSize = 0 } = {}) {
    const topics = [];
    let pageToken = '';
    do {
      const page = await this.listTopicsPage({ pageSize, pageToken });
      topics.push(...page.topics);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return topics;
  }

  /**
   * Stores `group`'s position in `topic`: `offset` is the next offset it
   * will read (1 to the topic's next offset; lower than before rewinds it).
   * @param {string} group @param {string} topic @param {bigint | number} offset
   * @param {{metadata?: string}} [options] at most 4 KiB stored with the commit
   * @returns {Promise<void>}
   */
  async commitOffset(group, topic, offset, { metadata } = {}) {
    const request = { group, topic, offset: BigInt(offset).toString(), metadata };
    await unary(this.#client, 'CommitOffset', request, this.#timeoutMs);
  }

  /**
   * `group`'s commit in `topic`, or null when it has none.
   * @param {string} group @param {string} topic
   * @returns {Promise<Commit | null>}
   */
  async fetchOffset(group, topic) {
    const reply = await unary(this.#client, 'FetchOffset', { group, topic }, this.#timeoutMs);
    return reply.commit ? toCommit(reply.commit) : null;
  }

  /**
   * Where a read of `topic` from `time` starts: the first message stored at
   * or after it (the topic's next offset when none is).
   * @param {string} topic @param {Date} time
   * @returns {Promise<bigint>}
   */
  async offsetForTime(topic, time) {
    const reply = await unary(this.#client, 'OffsetForTime', { topic, time: toTimestamp(time) }, this.#timeoutMs);
    return BigInt(reply.offset);
  }

  /**
   * Every group's name, sorted, fetched a page at a time.
   * @returns {Promise<string[]>}
   */
  async listGroups() {
    const groups = [];
    let pageToken = '';
    do {
      const reply = await unary(this.#client, 'ListGroups', { page_size: 0, page_token: pageToken }, this.#timeoutMs);
      groups.push(...reply.groups);
      pageToken = reply.next_page_token;
    } while (pageToken);
    return groups;
  }

  /**
   * A group's position, lag and oldest unread message's age in each topic
   * (NOT_FOUND for a group with no commit).
   * @param {string} group
   * @returns {Promise<GroupInfo>}
   */
  async describeGroup(group) {
    const reply = await unary(this.#client, 'DescribeGroup', { group }, this.#timeoutMs);
    return { name: reply.name, topics: reply.topics.map(toGroupTopic) };
  }

  /**
   * Removes a group's commits in every topic.
   * @param {string} group
   * @returns {Promise<bigint>} how many it had
   */
  async deleteGroup(group) {
    const reply = await unary(this.#client, 'DeleteGroup', { group }, this.#timeoutMs);
    return BigInt(reply.commits_deleted);
  }

  /** Closes the connection. */
  close() {
    this.#client.close();
  }
}
