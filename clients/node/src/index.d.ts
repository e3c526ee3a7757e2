// Types of minikafka-client (src/index.js).

import type { Interceptor, Metadata, ServiceError, status as grpcStatus } from '@grpc/grpc-js';

/** gRPC status codes (`error.code` of a failed call). */
export declare const status: typeof grpcStatus;
/** The server used when neither an argument nor MINIKAFKA_HOST names one. */
export declare const DEFAULT_HOST: string;
/** The deadline of each call, unless `timeoutMs` says otherwise. */
export declare const DEFAULT_TIMEOUT_MS: number;

/** How long an idempotent producer retries a batch, unless `retryForMs` says otherwise. */
export declare const DEFAULT_RETRY_FOR_MS: number;

/** A failed call: the grpc-js ServiceError (`code`, `details`, `metadata`), or one of the errors below. */
export type MinikafkaError = ServiceError | DataLossError | SequenceOutOfOrderError | NextOffsetMismatchError;

/** Trailer of a DATA_LOSS status: the first offset that cannot be read. */
export declare const DAMAGED_FIRST_OFFSET: string;
/** Trailer of a DATA_LOSS status: the first readable offset after the damage. */
export declare const NEXT_GOOD_OFFSET: string;

/**
 * A read reached records damaged on the server's disk (DATA_LOSS): offsets
 * `firstOffset` up to `nextGoodOffset - 1n` cannot be read. Set the
 * consumer's `position` to `nextGoodOffset` to go on past them.
 */
export declare class DataLossError extends Error {
  constructor(details: string, firstOffset: bigint, nextGoodOffset: bigint, metadata: Metadata);
  readonly code: grpcStatus.DATA_LOSS;
  readonly details: string;
  readonly metadata: Metadata;
  readonly firstOffset: bigint;
  readonly nextGoodOffset: bigint;
}

/** Trailer of a FAILED_PRECONDITION status: the sequence the server expects next from the producer. */
export declare const EXPECTED_SEQUENCE: string;
/** Trailer of a FAILED_PRECONDITION status: the topic's actual next offset. */
export declare const NEXT_OFFSET: string;

/**
 * An idempotent batch whose sequence the server did not expect from its
 * producer (FAILED_PRECONDITION); nothing was stored.
 */
export declare class SequenceOutOfOrderError extends Error {
  constructor(details: string, expectedSequence: bigint, metadata: Metadata);
  readonly code: grpcStatus.FAILED_PRECONDITION;
  readonly details: string;
  readonly metadata: Metadata;
  /** The sequence the server expects next from the producer. */
  readonly expectedSequence: bigint;
}

/**
 * A conditional produce refused because the topic's next offset was not
 * the one expected (FAILED_PRECONDITION); nothing was stored.
 */
export declare class NextOffsetMismatchError extends Error {
  constructor(details: string, nextOffset: bigint, metadata: Metadata);
  readonly code: grpcStatus.FAILED_PRECONDITION;
  readonly details: string;
  readonly metadata: Metadata;
  /** The topic's actual next offset. */
  readonly nextOffset: bigint;
}

/** The error a failed call rejects with: DATA_LOSS with its offsets becomes a DataLossError, FAILED_PRECONDITION with its trailer a SequenceOutOfOrderError or NextOffsetMismatchError; anything else is returned unchanged. */
export declare function fromServiceError(error: unknown): unknown;

/** Bytes to send; strings are sent as UTF-8. */
export type Bytes = Buffer | Uint8Array | string;

/** One header of a message: a non-empty UTF-8 name (it may repeat) and any bytes. */
export interface Header {
  name: string;
  value: Buffer;
}

/** One message to produce: its payload, an optional key, and headers in order. */
export interface Record {
  payload: Bytes;
  /** Empty or absent: no key. */
  key?: Bytes;
  /** `{ name, value }` objects or `[name, value]` pairs. */
  headers?: Iterable<{ name: string; value: Bytes } | [string, Bytes]>;
}

/** One stored message. */
export interface Message {
  /** Its offset in the topic, from 1. */
  offset: bigint;
  /** When the server stored it. */
  timestamp: Date;
  /** The bytes the producer sent. */
  payload: Buffer;
  /** Its key; empty when it has none. */
  key: Buffer;
  /** Its headers, in the order the producer gave them. */
  headers: Header[];
}

/** Offsets `first..last`, inclusive. */
export interface Range {
  first: bigint;
  last: bigint;
}

export interface Polled {
  /** The messages, in offset order; empty when caught up. */
  messages: Message[];
  /** Offsets retention removed before this consumer read them, or null. */
  gap: Range | null;
}

export interface TopicInfo {
  name: string;
  earliestOffset: bigint;
  nextOffset: bigint;
  messageCount: bigint;
  sizeBytes: bigint;
  /** When the earliest retained message was stored; null when the topic holds none. */
  oldestTimestamp: Date | null;
  /** The topic's settings as they apply; null only from a server older than topic settings. */
  settings: EffectiveSettings | null;
}

/** How long a topic keeps its messages by age: never removed by age, or a positive age. */
export type Retention = 'forever' | { maxAgeMs: number };

/**
 * The settings a topic can have of its own; an absent one follows the
 * server's default (MINIKAFKA_RETENTIONTIME, no size limit,
 * MINIKAFKA_MAX_MESSAGE_BYTES).
 */
export interface TopicSettings {
  /** Removal by age. */
  retention?: Retention;
  /** Removal by size: the most payload bytes the whole topic keeps. */
  retentionBytes?: bigint | number;
  /** The largest payload the topic accepts (at most the server's limit). */
  maxMessageBytes?: bigint | number;
}

/** A setting's name, for returning it to the server's default. */
export type SettingName = 'retention' | 'retentionBytes' | 'maxMessageBytes';

/** Where a setting's effective value comes from. */
export type SettingSource = 'serverDefault' | 'topic';

/** A setting's value as it applies, and where it comes from. */
export interface Effective<T> {
  value: T;
  source: SettingSource;
}

/** A topic's settings as they apply, each with its source. */
export interface EffectiveSettings {
  retention: Effective<Retention>;
  /** null: no size limit. */
  retentionBytes: Effective<bigint | null>;
  maxMessageBytes: Effective<bigint>;
}

/** One page of topics. */
export interface TopicPage {
  /** Sorted by name. */
  topics: TopicInfo[];
  /** Pass as `pageToken` for the next page; '' on the last page. */
  nextPageToken: string;
}

/** Where a consumer starts: the earliest retained message, the end, an offset (0: the earliest), or a time. */
export type Start = 'earliest' | 'end' | bigint | number | Date;

/** A group's committed position in one topic: `offset` is the next offset the group reads. */
export interface Commit {
  offset: bigint;
  /** When the server stored the commit. */
  time: Date | null;
  metadata: string;
}

/** A group's position in one topic, and how far behind it is. */
export interface GroupTopic {
  topic: string;
  commit: Commit;
  nextOffset: bigint;
  earliestOffset: bigint;
  /** Retained messages the group has not read. */
  lag: bigint;
  /** How long ago the oldest unread message was stored; null when the group has read everything. */
  oldestUnreadAgeMs: number | null;
  /** Messages retention removed before the group read them. */
  expiredUnread: bigint;
}

/** A group's position and lag in each topic it committed in. */
export interface GroupInfo {
  name: string;
  topics: GroupTopic[];
}

/** Where the .proto files are: MINIKAFKA_PROTO_DIR, the package's own copy, or the repository's proto/. */
export declare function protoRoot(): string;
/** The loaded minikafka.v1 package (grpc-js service constructors). */
export declare function protoPackage(): any;

/**
 * Appends messages to one topic. With `idempotent: true`, each batch
 * carries a random producer id and a sequence number, and UNAVAILABLE or
 * DEADLINE_EXCEEDED is retried with the same sequence for up to
 * `retryForMs`: the server stores the batch once.
 */
export declare class Producer {
  readonly topic: string;
  /** `host` is `host:port`; undefined: MINIKAFKA_HOST or 127.0.0.1:9999. */
  /** `token`: sent to a server with tokens; undefined: MINIKAFKA_TOKEN, if set. */
  constructor(
    host: string | undefined,
    topic: string,
    options?: { timeoutMs?: number; token?: string; idempotent?: boolean; retryForMs?: number; interceptors?: Interceptor[] },
  );
  /** Stores one message (strings as UTF-8); resolves with its offset. */
  send(payload: Bytes): Promise<bigint>;
  /** Stores the payloads atomically with consecutive offsets; conditional with `expectedNextOffset`. */
  sendBatch(payloads: Iterable<Bytes>, options?: { expectedNextOffset?: bigint | number }): Promise<Range>;
  /** Stores one message with its key and headers; resolves with its offset. */
  sendRecord(record: Record): Promise<bigint>;
  /** Stores the records atomically with consecutive offsets; conditional with `expectedNextOffset`. */
  sendRecords(records: Iterable<Record>, options?: { expectedNextOffset?: bigint | number }): Promise<Range>;
  close(): void;
}

export declare class Consumer {
  readonly topic: string;
  /** The offset the next read starts from (0n: the earliest retained). Setting it seeks. */
  position: bigint;
  /** `token`: sent to a server with tokens; undefined: MINIKAFKA_TOKEN, if set. */
  /**
   * `group`: start at the group's committed position (where it has none: the earliest, or
   * the end with start 'end') and commit for it; `autoCommitMs`: a poll commits when this
   * long has passed since the last commit, and close() commits (at-least-once).
   */
  constructor(
    host: string | undefined,
    topic: string,
    options?: { start?: Start; timeoutMs?: number; token?: string; group?: string; autoCommitMs?: number },
  );
  /** Commits the position for the group: a restart reads on after every message returned so far. */
  commit(): Promise<void>;
  /** Reads the next messages; `waitMs` makes a long poll. */
  poll(options?: { waitMs?: number; maxMessages?: number; maxBytes?: number }): Promise<Polled>;
  /** Follows the topic from `position`; ending the loop cancels the call. */
  subscribe(options?: { maxBatch?: number }): AsyncGenerator<Message, void, undefined>;
  /** Describes the topic (NOT_FOUND if it does not exist). */
  describe(): Promise<TopicInfo>;
  /** Ends open subscriptions and closes the connection; with `autoCommitMs`, commits first. */
  close(): Promise<void>;
}

/**
 * Topic administration, as the Rust client's Admin. Failed calls reject with
 * the ServiceError (NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT naming the
 * setting, UNAUTHENTICATED without a token for a server with tokens,
 * PERMISSION_DENIED when the token may not, ...).
 */
export declare class Admin {
  /**
   * `host` is `host:port`; undefined: MINIKAFKA_HOST or 127.0.0.1:9999.
   * `token`: sent to a server with tokens (creating, updating and deleting
   * need an admin token); undefined: MINIKAFKA_TOKEN, if set.
   */
  constructor(host: string | undefined, options?: { timeoutMs?: number; token?: string });
  /** Creates a topic; the same again succeeds, other settings reject with ALREADY_EXISTS. */
  createTopic(name: string, settings?: TopicSettings): Promise<TopicInfo>;
  /** Sets the settings in `set`, returns those in `reset` to the server's default; others stay. */
  updateTopic(name: string, change?: { set?: TopicSettings; reset?: Iterable<SettingName> }): Promise<TopicInfo>;
  /** Deletes a topic; resolves with how many messages it held. Created again, it starts at 1. */
  deleteTopic(name: string): Promise<bigint>;
  /** One topic with its effective settings (NOT_FOUND if it does not exist). */
  describeTopic(name: string): Promise<TopicInfo>;
  /** One page of topics; `pageSize` 0: the server's default (1,000). */
  listTopicsPage(options?: { pageSize?: number; pageToken?: string }): Promise<TopicPage>;
  /** Every topic, sorted by name, fetched a page at a time. */
  listTopics(options?: { pageSize?: number }): Promise<TopicInfo[]>;
  /** Stores a group's position in a topic: `offset` is the next offset it reads. */
  commitOffset(group: string, topic: string, offset: bigint | number, options?: { metadata?: string }): Promise<void>;
  /** A group's commit in a topic, or null. */
  fetchOffset(group: string, topic: string): Promise<Commit | null>;
  /** Where a read from `time` starts. */
  offsetForTime(topic: string, time: Date): Promise<bigint>;
  /** Every group's name, sorted. */
  listGroups(): Promise<string[]>;
  /** A group's position and lag in each topic (NOT_FOUND for a group with no commit). */
  describeGroup(group: string): Promise<GroupInfo>;
  /** Removes a group's commits; resolves with how many it had. */
  deleteGroup(group: string): Promise<bigint>;
  close(): void;
}
