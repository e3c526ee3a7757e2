// Package minikafka is the Go client of minikafka, a small, durable message
// store with a gRPC API: a Producer appends messages to a topic, a Consumer
// reads a topic from a position it keeps (Poll, with long polls, or
// Subscribe, with messages pushed as they are stored).
//
// Messages may carry a key and headers (Record, SendRecords). A producer
// made Idempotent retries lost answers without storing a batch twice, and
// SendRecordsExpecting appends only at an expected offset.
//
// Failed calls return an *Error carrying the gRPC status code; test its
// kind with errors.Is (ErrTopicNotFound, ErrInvalidArgument, ErrOutOfRange,
// ErrUnavailable, ErrDataLoss) and get the damaged offsets of a DATA_LOSS
// with errors.As and a *DataLossError, the expected sequence of a
// *SequenceOutOfOrderError, or the next offset of a
// *NextOffsetMismatchError.
//
// The generated gRPC code is in the minikafkav1 package, for calls this
// package does not wrap.
package minikafka

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "example.invalid/minikafka/clients/go/minikafkav1"
)

// DefaultTimeout is how long a call may take, beyond any long-poll wait,
// unless the caller's context ends it sooner or WithTimeout changes it.
const DefaultTimeout = 10 * time.Second

// Client is a connection to one server. It is safe for concurrent use;
// its producers and consumers share its connection.
type Client struct {
	api     pb.MiniKafkaClient
	conn    *grpc.ClientConn // nil when the caller owns the connection
	timeout time.Duration
	token   string
	// listPageSize is how many topics each ListTopics request asks for
	// (0: the server's default).
	listPageSize uint32
}

// Dial connects to a server at address ("host:port") in plain text.
// For TLS, use DialWith with grpc.WithTransportCredentials.
func Dial(address string) (*Client, error) {
	return DialWith(address, grpc.WithInsecure())
}

// DialWith connects to a server at address with these gRPC options (which
// must say how to secure the connection, as grpc.Dial requires).
func DialWith(address string, options ...grpc.DialOption) (*Client, error) {
	conn, err := grpc.Dial(address, options...)
	if err != nil {
		return nil, fromCall(err, nil)
	}
	client := NewClient(conn)
	client.conn = conn
	return client, nil
}

// NewClient uses a connection the caller made and will close.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{api: pb.NewMiniKafkaClient(conn), timeout: DefaultTimeout}
}

// Close closes the connection Dial made; a no-op for NewClient's.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// WithTimeout returns a client on the same connection whose calls may take
// timeout each (beyond a long poll's wait).
func (c *Client) WithTimeout(timeout time.Duration) *Client {
	copied := *c
	copied.timeout = timeout
	return &copied
}

// WithToken returns a client on the same connection that sends
// "authorization: Bearer token" with every call, for a server with tokens.
func (c *Client) WithToken(token string) *Client {
	copied := *c
	copied.token = token
	return &copied
}

// WithListPageSize returns a client on the same connection whose
// ListTopics asks for size topics per request (0: the server's default,
// 1,000); smaller pages make smaller replies.
func (c *Client) WithListPageSize(size uint32) *Client {
	copied := *c
	copied.listPageSize = size
	return &copied
}

// API is the generated client, for calls this package does not wrap.
func (c *Client) API() pb.MiniKafkaClient {
	return c.api
}

// callContext bounds one unary call by the client's timeout plus wait, and
// adds the token if there is one.
func (c *Client) callContext(ctx context.Context, wait time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.withToken(ctx), c.timeout+wait)
}

// withToken adds the client's token, if it has one, to a call's metadata.
func (c *Client) withToken(ctx context.Context) context.Context {
	if c.token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
}

// TopicInfo is the state of one topic.
type TopicInfo struct {
	// Name is the topic's name.
	Name string
	// EarliestOffset is the earliest message still retained; equal to
	// NextOffset when the topic holds none.
	EarliestOffset uint64
	// NextOffset is the offset the next message stored will get.
	NextOffset uint64
	// MessageCount is how many messages the topic holds.
	MessageCount uint64
	// SizeBytes is the bytes the topic's messages hold: payloads, keys and
	// header names and values.
	SizeBytes uint64
	// OldestTimestamp is when the earliest retained message was stored;
	// the zero time when the topic holds none.
	OldestTimestamp time.Time
}

// DescribeTopic tells the state of one topic; ErrTopicNotFound if it does
// not exist.
func (c *Client) DescribeTopic(ctx context.Context, topic string) (TopicInfo, error) {
	ctx, cancel := c.callContext(ctx, 0)
	defer cancel()
	var trailer metadata.MD
	info, err := c.api.DescribeTopic(ctx, &pb.DescribeTopicRequest{Topic: topic}, grpc.Trailer(&trailer))
	if err != nil {
		return TopicInfo{}, fromCall(err, trailer)
	}
	return topicInfo(info), nil
}

// ListTopics tells the state of every topic, sorted by name, asking the
// server a page at a time until it has them all.
func (c *Client) ListTopics(ctx context.Context) ([]TopicInfo, error) {
	var topics []TopicInfo
	token := ""
	for {
		page, next, err := c.listPage(ctx, token)
		if err != nil {
			return nil, err
		}
		topics = append(topics, page...)
		if next == "" {
			return topics, nil
		}
		token = next
	}
}

// listPage is one page of topics from the one after token (empty: the
// first), and the token of the next page (empty after the last).
func (c *Client) listPage(ctx context.Context, token string) ([]TopicInfo, string, error) {
	ctx, cancel := c.callContext(ctx, 0)
	defer cancel()
	var trailer metadata.MD
	reply, err := c.api.ListTopics(ctx, &pb.ListTopicsRequest{PageSize: c.listPageSize, PageToken: token}, grpc.Trailer(&trailer))
	if err != nil {
		return nil, "", fromCall(err, trailer)
	}
	topics := make([]TopicInfo, 0, len(reply.Topics))
	for _, info := range reply.Topics {
		topics = append(topics, topicInfo(info))
	}
	return topics, reply.NextPageToken, nil
}

func topicInfo(info *pb.TopicInfo) TopicInfo {
	return TopicInfo{
		Name:            info.Name,
		EarliestOffset:  info.EarliestOffset,
		NextOffset:      info.NextOffset,
		MessageCount:    info.MessageCount,
		SizeBytes:       info.SizeBytes,
		OldestTimestamp: timeOf(info.OldestTimestamp),
	}
}

// timeOf converts a protobuf timestamp; absent is the zero time.
func timeOf(timestamp *timestamppb.Timestamp) time.Time {
	if timestamp == nil {
		return time.Time{}
	}
	return timestamp.AsTime()
}
