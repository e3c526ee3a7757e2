package minikafka

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	pb "example.invalid/minikafka/clients/go/minikafkav1"
)

// Producer appends messages to one topic, creating it on first use. It is
// safe for concurrent use.
type Producer struct {
	client *Client
	topic  string
}

// Producer returns a producer for topic.
func (c *Client) Producer(topic string) *Producer {
	return &Producer{client: c, topic: topic}
}

// Offsets is the range of offsets a batch was stored at: First to Last,
// both included, one per payload in order.
type Offsets struct {
	First uint64
	Last  uint64
}

// Send stores one message and returns its offset, once the server has
// stored it as durably as it is configured to.
func (p *Producer) Send(ctx context.Context, payload []byte) (uint64, error) {
	offsets, err := p.SendBatch(ctx, [][]byte{payload})
	return offsets.First, err
}

// SendBatch stores the payloads atomically, in order, at consecutive
// offsets: all of them or none. A batch whose answer was lost (a deadline,
// a dropped connection) may have been stored: sending it again can store
// it twice. An empty batch fails with ErrInvalidArgument.
func (p *Producer) SendBatch(ctx context.Context, payloads [][]byte) (Offsets, error) {
	ctx, cancel := p.client.callContext(ctx, 0)
	defer cancel()
	var trailer metadata.MD
	reply, err := p.client.api.Produce(ctx, &pb.ProduceRequest{Topic: p.topic, Payloads: payloads}, grpc.Trailer(&trailer))
	if err != nil {
		return Offsets{}, fromCall(err, trailer)
	}
	return Offsets{First: reply.FirstOffset, Last: reply.LastOffset}, nil
}
