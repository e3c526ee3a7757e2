package minikafka_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	minikafka "example.invalid/minikafka/clients/go"
)

// readAll polls topic from the earliest message to its end.
func readAll(t *testing.T, ctx context.Context, client *minikafka.Client, topic string) []minikafka.Message {
	t.Helper()
	consumer := client.Consumer(topic, minikafka.Earliest)
	var read []minikafka.Message
	for {
		polled, err := consumer.Poll(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(polled.Messages) == 0 {
			return read
		}
		read = append(read, polled.Messages...)
	}
}

func TestKeysAndHeadersComeBackAsSent(t *testing.T) {
	client, topic, ctx := testClient(t), testTopic(t), testContext(t)
	records := []minikafka.Record{
		{Payload: []byte("plain")},
		{
			Payload: []byte("with both"),
			Key:     []byte{0, 1, 0xff},
			Headers: []minikafka.Header{
				{Name: "trace", Value: []byte("a")},
				{Name: "content-type", Value: []byte{0xfe, 0}},
				{Name: "trace", Value: nil},
			},
		},
		{Payload: nil, Key: []byte("key only")},
	}
	offsets, err := client.Producer(topic).SendRecords(ctx, records)
	if err != nil || offsets != (minikafka.Offsets{First: 1, Last: 3}) {
		t.Fatalf("offsets %+v, %v", offsets, err)
	}
	read := readAll(t, ctx, client, topic)
	if len(read) != len(records) {
		t.Fatalf("read %d messages, want %d", len(read), len(records))
	}
	for i, message := range read {
		want := records[i]
		if !bytes.Equal(message.Payload, want.Payload) || !bytes.Equal(message.Key, want.Key) || len(message.Headers) != len(want.Headers) {
			t.Fatalf("message %d: %+v, want %+v", i, message, want)
		}
		for j, header := range message.Headers {
			if header.Name != want.Headers[j].Name || !bytes.Equal(header.Value, want.Headers[j].Value) {
				t.Fatalf("message %d header %d: %+v, want %+v", i, j, header, want.Headers[j])
			}
		}
	}
	info, err := client.DescribeTopic(ctx, topic)
	// Payloads, keys, and header names and values.
	wantSize := uint64(len("plain") + len("with both") + 3 + len("trace") + 1 + len("content-type") + 2 + len("trace") + len("key only"))
	if err != nil || info.SizeBytes != wantSize {
		t.Fatalf("size %d, %v; want %d", info.SizeBytes, err, wantSize)
	}
}

func TestABadHeaderNameIsRefusedAndStoresNothing(t *testing.T) {
	client, topic, ctx := testClient(t), testTopic(t), testContext(t)
	_, err := client.Producer(topic).SendRecords(ctx, []minikafka.Record{
		{Payload: []byte("fine")},
		{Payload: []byte("bad"), Headers: []minikafka.Header{{Name: "", Value: []byte("x")}}},
	})
	assertKind(t, err, minikafka.ErrInvalidArgument, codes.InvalidArgument)
	if _, err := client.DescribeTopic(ctx, topic); !errors.Is(err, minikafka.ErrTopicNotFound) {
		t.Fatalf("a refused batch created the topic: %v", err)
	}
}

// dropAnswers is a client interceptor that lets the server store each
// Produce and then loses the answer of the first `drops` of them, as a
// dropped connection would, counting every Produce sent.
type dropAnswers struct {
	drops int64
	sent  int64
}

func (d *dropAnswers) intercept(ctx context.Context, method string, request, reply interface{}, conn *grpc.ClientConn, invoker grpc.UnaryInvoker, options ...grpc.CallOption) error {
	if method != "/minikafka.v1.MiniKafka/Produce" {
		return invoker(ctx, method, request, reply, conn, options...)
	}
	atomic.AddInt64(&d.sent, 1)
	if err := invoker(ctx, method, request, reply, conn, options...); err != nil {
		return err
	}
	if atomic.AddInt64(&d.drops, -1) >= 0 {
		return status.Error(codes.Unavailable, "the answer was lost on the way")
	}
	return nil
}

func dialDropping(t *testing.T, drops int64) (*minikafka.Client, *dropAnswers) {
	t.Helper()
	dropper := &dropAnswers{drops: drops}
	client, err := minikafka.DialWith(os.Getenv("MINIKAFKA_TEST_HOST"), grpc.WithInsecure(), grpc.WithUnaryInterceptor(dropper.intercept))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client, dropper
}

func TestAnIdempotentProducerRetriesALostAnswerWithoutACopy(t *testing.T) {
	client, dropper := dialDropping(t, 0)
	topic, ctx := testTopic(t), testContext(t)
	producer := client.Producer(topic).Idempotent()
	if _, err := producer.Send(ctx, []byte("before")); err != nil {
		t.Fatal(err)
	}
	// This batch is stored, its answer lost, and the retry gets the
	// offsets the first attempt stored it at.
	atomic.StoreInt64(&dropper.drops, 1)
	offsets, err := producer.SendRecords(ctx, []minikafka.Record{{Payload: []byte("a"), Key: []byte("k")}, {Payload: []byte("b")}})
	if err != nil || offsets != (minikafka.Offsets{First: 2, Last: 3}) {
		t.Fatalf("offsets %+v, %v; want 2..3", offsets, err)
	}
	if sent := atomic.LoadInt64(&dropper.sent); sent != 3 {
		t.Fatalf("%d produce calls, want 3 (one lost answer, one retry)", sent)
	}
	if _, err := producer.Send(ctx, []byte("after")); err != nil {
		t.Fatal(err)
	}
	read := readAll(t, ctx, testClient(t), topic)
	if len(read) != 4 || string(read[0].Payload) != "before" || string(read[1].Key) != "k" || string(read[2].Payload) != "b" || string(read[3].Payload) != "after" {
		t.Fatalf("stored %+v, want one copy of each message", read)
	}
}

func TestAPlainProducerDoesNotRetry(t *testing.T) {
	client, dropper := dialDropping(t, 1)
	topic, ctx := testTopic(t), testContext(t)
	_, err := client.Producer(topic).Send(ctx, []byte("once"))
	assertKind(t, err, minikafka.ErrUnavailable, codes.Unavailable)
	if sent := atomic.LoadInt64(&dropper.sent); sent != 1 {
		t.Fatalf("%d produce calls, want 1", sent)
	}
}

func TestAnIdempotentProducerGivesUpWhenItsRetryTimeRunsOut(t *testing.T) {
	client, _ := dialDropping(t, 1<<40)
	topic, ctx := testTopic(t), testContext(t)
	started := time.Now()
	_, err := client.Producer(topic).Idempotent().WithRetryFor(300*time.Millisecond).Send(ctx, []byte("x"))
	assertKind(t, err, minikafka.ErrUnavailable, codes.Unavailable)
	if elapsed := time.Since(started); elapsed > 5*time.Second {
		t.Fatalf("gave up after %v, want about 300ms", elapsed)
	}
	// However many times it was sent, it was stored once.
	if read := readAll(t, ctx, testClient(t), topic); len(read) != 1 {
		t.Fatalf("stored %d copies, want 1", len(read))
	}
}

func TestConcurrentIdempotentSendsAllGetTheirOwnOffsets(t *testing.T) {
	client, topic, ctx := testClient(t), testTopic(t), testContext(t)
	producer := client.Producer(topic).Idempotent()
	const senders = 8
	const each = 20
	errs := make(chan error, senders)
	for s := 0; s < senders; s++ {
		go func() {
			for i := 0; i < each; i++ {
				if _, err := producer.Send(ctx, []byte("x")); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for s := 0; s < senders; s++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	info, err := client.DescribeTopic(ctx, topic)
	if err != nil || info.MessageCount != senders*each {
		t.Fatalf("%+v, %v; want %d messages", info, err, senders*each)
	}
}

func TestAConditionalAppendStoresOnlyAtTheExpectedOffset(t *testing.T) {
	client, topic, ctx := testClient(t), testTopic(t), testContext(t)
	producer := client.Producer(topic)
	record := []minikafka.Record{{Payload: []byte("event")}}
	_, err := producer.SendRecordsExpecting(ctx, 2, record)
	var mismatch *minikafka.NextOffsetMismatchError
	if !errors.As(err, &mismatch) || mismatch.NextOffset != 1 || status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("%v: want a *NextOffsetMismatchError with next offset 1", err)
	}
	if _, err := client.DescribeTopic(ctx, topic); !errors.Is(err, minikafka.ErrTopicNotFound) {
		t.Fatalf("a refused conditional append created the topic: %v", err)
	}
	offsets, err := producer.SendRecordsExpecting(ctx, 1, record)
	if err != nil || offsets != (minikafka.Offsets{First: 1, Last: 1}) {
		t.Fatalf("%+v, %v", offsets, err)
	}
	_, err = producer.Idempotent().SendRecordsExpecting(ctx, 1, record)
	if !errors.As(err, &mismatch) || mismatch.NextOffset != 2 {
		t.Fatalf("%v: want a *NextOffsetMismatchError with next offset 2", err)
	}
	if read := readAll(t, ctx, client, topic); len(read) != 1 || !reflect.DeepEqual(read[0].Payload, []byte("event")) {
		t.Fatalf("stored %+v", read)
	}
}
