package minikafka

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	pb "example.invalid/minikafka/clients/go/minikafkav1"
)

// DefaultRetryFor is how long an idempotent producer retries a batch whose
// answer it did not get, unless WithRetryFor changes it.
const DefaultRetryFor = 30 * time.Second

// Producer appends messages to one topic, creating it on first use. It is
// safe for concurrent use.
type Producer struct {
	client *Client
	topic  string
	// lanes is nil for a plain producer; an idempotent one (Idempotent)
	// numbers its batches in them.
	lanes    *lanes
	retryFor time.Duration
}

// Producer returns a plain producer for topic: each batch is sent once, and
// one whose answer was lost may have been stored. Idempotent makes one that
// can retry safely.
func (c *Client) Producer(topic string) *Producer {
	return &Producer{client: c, topic: topic, retryFor: DefaultRetryFor}
}

// Idempotent returns a producer for the same topic whose batches carry a
// producer id (random) and a sequence number, so that the server stores
// each batch once however often it is sent: a batch that fails with
// ErrUnavailable or a call deadline is sent again, with the same sequence,
// until its retry time (DefaultRetryFor, or WithRetryFor) runs out, and the
// server answers a batch it already stored with its original offsets.
// docs/api.md says exactly when a retry can still store a batch twice.
func (p *Producer) Idempotent() *Producer {
	copied := *p
	copied.lanes = &lanes{}
	return &copied
}

// WithRetryFor returns a producer like this one whose idempotent batches
// are retried for up to retryFor (a plain producer never retries).
func (p *Producer) WithRetryFor(retryFor time.Duration) *Producer {
	copied := *p
	copied.retryFor = retryFor
	return &copied
}

// Offsets is the range of offsets a batch was stored at: First to Last,
// both included, one per message in order.
type Offsets struct {
	First uint64
	Last  uint64
}

// Header is one header of a message: a name (non-empty UTF-8; it may appear
// more than once) and a value (any bytes).
type Header struct {
	Name  string
	Value []byte
}

// Record is one message to produce: its payload, an optional key (empty:
// none) and headers, kept in order.
type Record struct {
	Payload []byte
	Key     []byte
	Headers []Header
}

// Send stores one message and returns its offset, once the server has
// stored it as durably as it is configured to.
func (p *Producer) Send(ctx context.Context, payload []byte) (uint64, error) {
	offsets, err := p.SendBatch(ctx, [][]byte{payload})
	return offsets.First, err
}

// SendBatch stores the payloads atomically, in order, at consecutive
// offsets: all of them or none. A plain producer's batch whose answer was
// lost (a deadline, a dropped connection) may have been stored: sending it
// again can store it twice. An empty batch fails with ErrInvalidArgument.
func (p *Producer) SendBatch(ctx context.Context, payloads [][]byte) (Offsets, error) {
	return p.produce(ctx, &pb.ProduceRequest{Topic: p.topic, Payloads: payloads})
}

// SendRecord stores one message with its key and headers and returns its
// offset.
func (p *Producer) SendRecord(ctx context.Context, record Record) (uint64, error) {
	offsets, err := p.SendRecords(ctx, []Record{record})
	return offsets.First, err
}

// SendRecords stores the records atomically, in order, at consecutive
// offsets, as SendBatch does payloads.
func (p *Producer) SendRecords(ctx context.Context, records []Record) (Offsets, error) {
	return p.produce(ctx, &pb.ProduceRequest{Topic: p.topic, Records: wireRecords(records)})
}

// SendRecordsExpecting is a conditional append, for optimistic
// concurrency: the records are stored only if the topic's next offset is
// expectedNextOffset (1 for a topic that does not exist yet). Otherwise
// nothing is stored and the error is a *NextOffsetMismatchError with the
// topic's actual next offset.
func (p *Producer) SendRecordsExpecting(ctx context.Context, expectedNextOffset uint64, records []Record) (Offsets, error) {
	return p.produce(ctx, &pb.ProduceRequest{
		Topic:              p.topic,
		Records:            wireRecords(records),
		ExpectedNextOffset: &expectedNextOffset,
	})
}

func wireRecords(records []Record) []*pb.Record {
	wire := make([]*pb.Record, len(records))
	for i, record := range records {
		headers := make([]*pb.Header, len(record.Headers))
		for j, header := range record.Headers {
			headers[j] = &pb.Header{Name: []byte(header.Name), Value: header.Value}
		}
		wire[i] = &pb.Record{Payload: record.Payload, Key: record.Key, Headers: headers}
	}
	return wire
}

// produce sends the request once (plain) or, numbered in a lane, until it
// gets an answer or its retry time runs out (idempotent).
func (p *Producer) produce(ctx context.Context, request *pb.ProduceRequest) (Offsets, error) {
	if p.lanes == nil {
		return p.call(ctx, request)
	}
	lane, err := p.lanes.take()
	if err != nil {
		return Offsets{}, err
	}
	request.ProducerId, request.Sequence = lane.id, lane.next
	giveUp := time.Now().Add(p.retryFor)
	wait := 20 * time.Millisecond
	for {
		offsets, err := p.call(ctx, request)
		switch {
		case err == nil:
			lane.next++
			p.lanes.give(lane)
			return offsets, nil
		case ctx.Err() == nil && isTransient(err) && time.Now().Add(wait).Before(giveUp):
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
			wait = minDuration(2*wait, time.Second)
		case storedNothing(err):
			// The sequence is still unused: the lane's next batch takes it.
			p.lanes.give(lane)
			return Offsets{}, err
		default:
			// The batch may or may not be stored: its sequence must never
			// number other data, so the lane is dropped, and a later batch
			// gets a fresh producer id.
			return Offsets{}, err
		}
	}
}

func (p *Producer) call(ctx context.Context, request *pb.ProduceRequest) (Offsets, error) {
	ctx, cancel := p.client.callContext(ctx, 0)
	defer cancel()
	var trailer metadata.MD
	reply, err := p.client.api.Produce(ctx, request, grpc.Trailer(&trailer))
	if err != nil {
		return Offsets{}, fromCall(err, trailer)
	}
	return Offsets{First: reply.FirstOffset, Last: reply.LastOffset}, nil
}

// isTransient: the batch may have been stored, and sending it again may
// get an answer (the server restarting, a dropped connection, a call
// deadline).
func isTransient(err error) bool {
	var callError *Error
	return errors.As(err, &callError) &&
		(callError.Code == codes.Unavailable || callError.Code == codes.DeadlineExceeded)
}

// storedNothing: the server refused the batch before storing any of it,
// and did not count its sequence.
func storedNothing(err error) bool {
	var outOfOrder *SequenceOutOfOrderError
	if errors.As(err, &outOfOrder) {
		// The server and this lane disagree about the sequence.
		return false
	}
	var callError *Error
	if !errors.As(err, &callError) {
		return false
	}
	switch callError.Code {
	case codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition, codes.OutOfRange,
		codes.PermissionDenied, codes.Unauthenticated:
		return true
	}
	return false
}

func minDuration(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

// lane is one producer id and the sequence its next batch gets. Each
// request in flight has a lane of its own, so concurrent sends never wait
// on each other's order.
type lane struct {
	id   uint64
	next uint64
}

// lanes holds the lanes no request is using.
type lanes struct {
	mu   sync.Mutex
	idle []*lane
}

// take is an idle lane, or a new one with a random id.
func (l *lanes) take() (*lane, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.idle); n > 0 {
		taken := l.idle[n-1]
		l.idle = l.idle[:n-1]
		return taken, nil
	}
	var random [8]byte
	for {
		if _, err := rand.Read(random[:]); err != nil {
			return nil, err
		}
		// 0 means "no producer" on the wire.
		if id := binary.LittleEndian.Uint64(random[:]); id != 0 {
			return &lane{id: id}, nil
		}
	}
}

func (l *lanes) give(done *lane) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = append(l.idle, done)
}
