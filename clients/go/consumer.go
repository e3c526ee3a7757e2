package minikafka

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "example.invalid/minikafka/clients/go/minikafkav1"
)

// Position is where a consumer starts reading: Earliest, End, or At(offset)
// (a position saved from Consumer.Position).
type Position struct {
	offset uint64
	end    bool
}

var (
	// Earliest starts at the earliest message the topic still holds.
	Earliest = Position{}
	// End starts after the last message stored when reading starts: only
	// messages stored from then on are read.
	End = Position{end: true}
)

// At starts at offset (0 is the same as Earliest).
func At(offset uint64) Position {
	return Position{offset: offset}
}

// Message is one message read.
type Message struct {
	// Offset is its offset in the topic, from 1.
	Offset uint64
	// Timestamp is when the server stored it.
	Timestamp time.Time
	// Payload is the bytes the producer sent.
	Payload []byte
	// Key is the message's key; empty when it has none.
	Key []byte
	// Headers are the message's headers, in the order the producer gave
	// them.
	Headers []Header
}

// Gap is messages that retention removed before the consumer read them:
// offsets First to Last, both included.
type Gap struct {
	First uint64
	Last  uint64
}

// Count is how many messages were missed.
func (g Gap) Count() uint64 {
	return g.Last - g.First + 1
}

// Polled is what one read returned.
type Polled struct {
	// Messages are in offset order; none when the consumer is caught up.
	Messages []Message
	// Gap is set when retention removed messages this consumer had not
	// read yet; the messages after it are still in Messages.
	Gap *Gap
}

// Consumer reads one topic and keeps its own position: the server
// remembers nothing about consumers, so save Position wherever the
// application keeps its state and start from At(saved) next time. A
// Consumer is not safe for concurrent use.
type Consumer struct {
	client *Client
	topic  string
	// position is the next offset to read; 0 (the earliest) until the
	// server says where that is.
	position uint64
	// fromEnd: start after the last message, until the position is known.
	fromEnd     bool
	maxMessages uint32
	maxBytes    uint32
}

// Consumer returns a consumer of topic starting at from.
func (c *Client) Consumer(topic string, from Position) *Consumer {
	return &Consumer{client: c, topic: topic, position: from.offset, fromEnd: from.end}
}

// WithLimits asks for at most maxMessages messages and maxBytes payload
// bytes per read (0: the server's default; the server caps both).
func (c *Consumer) WithLimits(maxMessages, maxBytes uint32) *Consumer {
	c.maxMessages = maxMessages
	c.maxBytes = maxBytes
	return c
}

// Topic is the topic this consumer reads.
func (c *Consumer) Topic() string {
	return c.topic
}

// Position is the offset the next read starts at: save it to resume there.
// 0 means the earliest, until the first read.
func (c *Consumer) Position() uint64 {
	return c.position
}

// Seek moves the consumer to offset (0: the earliest retained), for
// example to a DataLossError's NextGoodOffset.
func (c *Consumer) Seek(offset uint64) {
	c.position = offset
	c.fromEnd = false
}

// Poll reads the next messages and moves past them. With wait 0 it answers
// at once, with no messages when there are none, and a topic that does not
// exist fails with ErrTopicNotFound. With a wait (a long poll; the server
// caps it at 30 s), the server holds the call until a message is stored
// or the wait runs out.
func (c *Consumer) Poll(ctx context.Context, wait time.Duration) (Polled, error) {
	if err := c.resolveEnd(ctx); err != nil {
		return Polled{}, err
	}
	request := &pb.PollRequest{
		Topic:       c.topic,
		ReadFrom:    c.position,
		MaxMessages: c.maxMessages,
		MaxBytes:    c.maxBytes,
	}
	if wait > 0 {
		request.MaxWait = durationpb.New(wait)
	}
	callCtx, cancel := c.client.callContext(ctx, wait)
	defer cancel()
	var trailer metadata.MD
	reply, err := c.client.api.Poll(callCtx, request, grpc.Trailer(&trailer))
	if err != nil {
		return Polled{}, fromCall(err, trailer)
	}
	return c.take(reply), nil
}

// resolveEnd turns the End position into an offset: the topic's next one,
// or 1 for a topic that does not exist yet.
func (c *Consumer) resolveEnd(ctx context.Context) error {
	if !c.fromEnd {
		return nil
	}
	info, err := c.client.DescribeTopic(ctx, c.topic)
	switch {
	case err == nil:
		c.position = info.NextOffset
	case errors.Is(err, ErrTopicNotFound):
		c.position = 1
	default:
		return err
	}
	c.fromEnd = false
	return nil
}

// take moves past one reply (of Poll or of a subscription) and says
// whether retention removed messages before this consumer read them.
func (c *Consumer) take(reply *pb.PollResponse) Polled {
	var polled Polled
	if c.position != 0 && reply.EarliestOffset > c.position {
		polled.Gap = &Gap{First: c.position, Last: reply.EarliestOffset - 1}
	}
	c.position = reply.NewReadFrom
	for _, message := range reply.Messages {
		var headers []Header
		for _, header := range message.Headers {
			headers = append(headers, Header{Name: string(header.Name), Value: header.Value})
		}
		polled.Messages = append(polled.Messages, Message{
			Offset:    message.Offset,
			Timestamp: timeOf(message.Timestamp),
			Payload:   message.Payload,
			Key:       message.Key,
			Headers:   headers,
		})
	}
	return polled
}

// Subscription follows a topic: the server pushes each batch of messages
// as it is stored. Read it with Next; end it by cancelling the context
// given to Subscribe.
type Subscription struct {
	consumer *Consumer
	stream   pb.MiniKafka_SubscribeClient
}

// Subscribe follows the topic from the consumer's position. A topic that
// does not exist yet is waited for. The consumer's Position moves with
// each batch Next returns; after an error (ErrUnavailable when the server
// shuts down), Subscribe again to go on from there.
func (c *Consumer) Subscribe(ctx context.Context) (*Subscription, error) {
	stream, err := c.client.api.Subscribe(c.client.withToken(ctx), &pb.SubscribeRequest{
		Topic:    c.topic,
		ReadFrom: c.position,
		MaxBatch: c.maxMessages,
		FromEnd:  c.fromEnd,
	})
	if err != nil {
		return nil, fromCall(err, nil)
	}
	return &Subscription{consumer: c, stream: stream}, nil
}

// Next waits for the next batch of messages. It returns io.EOF if the
// server ended the stream without an error, and the context's error,
// as an *Error, once Subscribe's context is cancelled.
func (s *Subscription) Next() (Polled, error) {
	reply, err := s.stream.Recv()
	if err == io.EOF {
		return Polled{}, io.EOF
	}
	if err != nil {
		return Polled{}, fromCall(err, s.stream.Trailer())
	}
	// Starting at the end, the first batch says where the end was.
	s.consumer.fromEnd = false
	return s.consumer.take(reply), nil
}
