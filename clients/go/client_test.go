package minikafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	minikafka "example.invalid/minikafka/clients/go"
)

// The tests run against a real mkfk-server at MINIKAFKA_TEST_HOST; they
// never start one (cmd/tests/go_client.rs does).
func testClient(t *testing.T) *minikafka.Client {
	t.Helper()
	host := os.Getenv("MINIKAFKA_TEST_HOST")
	if host == "" {
		t.Fatal("MINIKAFKA_TEST_HOST is not set: start an mkfk-server and run e.g. MINIKAFKA_TEST_HOST=127.0.0.1:9999 go test ./...")
	}
	client, err := minikafka.Dial(host)
	if err != nil {
		t.Fatalf("dial %s: %v", host, err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

var topicCount int64

// testTopic is a topic name no other test (or earlier run) uses.
func testTopic(t *testing.T) string {
	return fmt.Sprintf("go-%s-%d-%d", t.Name(), time.Now().UnixNano(), atomic.AddInt64(&topicCount, 1))
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestAThousandMessagesComeBackByteForByte(t *testing.T) {
	client, topic, ctx := testClient(t), testTopic(t), testContext(t)
	payloads := make([][]byte, 1000)
	for i := range payloads {
		// Every byte value, and an empty payload first.
		payloads[i] = bytes.Repeat([]byte{byte(i)}, i%300)
	}
	offsets, err := client.Producer(topic).SendBatch(ctx, payloads)
	if err != nil {
		t.Fatal(err)
	}
	if offsets != (minikafka.Offsets{First: 1, Last: 1000}) {
		t.Fatalf("offsets %+v, want 1..1000", offsets)
	}
	consumer := client.Consumer(topic, minikafka.Earliest)
	var read []minikafka.Message
	for len(read) < len(payloads) {
		polled, err := consumer.Poll(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(polled.Messages) == 0 || polled.Gap != nil {
			t.Fatalf("after %d messages: %+v", len(read), polled)
		}
		read = append(read, polled.Messages...)
	}
	for i, message := range read {
		if message.Offset != uint64(i+1) || !bytes.Equal(message.Payload, payloads[i]) {
			t.Fatalf("message %d: offset %d, %d bytes; want offset %d, %d bytes", i, message.Offset, len(message.Payload), i+1, len(payloads[i]))
		}
		if message.Timestamp.IsZero() {
			t.Fatalf("message %d has no timestamp", message.Offset)
		}
	}
	if consumer.Position() != 1001 {
		t.Fatalf("position %d after reading 1..1000, want 1001", consumer.Position())
	}
	info, err := client.DescribeTopic(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != topic || info.MessageCount != 1000 || info.NextOffset != 1001 || info.OldestTimestamp.IsZero() {
		t.Fatalf("DescribeTopic: %+v", info)
	}
	topics, err := client.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, other := range topics {
		listed = listed || other == info
	}
	if !listed {
		t.Fatalf("ListTopics does not list %+v", info)
	}
}

func TestListTopicsGoesThroughEveryPage(t *testing.T) {
	client := testClient(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("go-pages-%d-", time.Now().UnixNano())
	var made []string
	for i := 0; i < 3; i++ {
		topic := fmt.Sprintf("%s%d", prefix, i)
		if _, err := client.Producer(topic).Send(ctx, []byte("x")); err != nil {
			t.Fatal(err)
		}
		made = append(made, topic)
	}
	topics, err := client.WithListPageSize(1).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, info := range topics {
		if strings.HasPrefix(info.Name, prefix) {
			listed = append(listed, info.Name)
		}
	}
	if strings.Join(listed, ",") != strings.Join(made, ",") {
		t.Fatalf("one topic per page listed %v, want %v", listed, made)
	}
}

func TestSendReturnsConsecutiveOffsets(t *testing.T) {
	client, topic, ctx := testClient(t), testTopic(t), testContext(t)
	producer := client.Producer(topic)
	for want := uint64(1); want <= 3; want++ {
		offset, err := producer.Send(ctx, []byte("x"))
		if err != nil || offset != want {
			t.Fatalf("send: offset %d, %v; want %d", offset, err, want)
		}
	}
}

func TestAnUnknownTopicIsNotFound(t *testing.T) {
	client, topic, ctx := testClient(t), testTopic(t), testContext(t)
	_, err := client.Consumer(topic, minikafka.Earliest).Poll(ctx, 0)
	assertKind(t, err, minikafka.ErrTopicNotFound, codes.NotFound)
	if !strings.Contains(err.Error(), topic) {
		t.Fatalf("%q does not name the topic", err)
	}
	_, err = client.DescribeTopic(ctx, topic)
	assertKind(t, err, minikafka.ErrTopicNotFound, codes.NotFound)
}

func TestRefusedBatchesAreInvalidArgumentAndStoreNothing(t *testing.T) {
	client, topic, ctx := testClient(t), testTopic(t), testContext(t)
	_, err := client.Producer("no spaces allowed").Send(ctx, []byte("x"))
	assertKind(t, err, minikafka.ErrInvalidArgument, codes.InvalidArgument)
	_, err = client.Producer(topic).SendBatch(ctx, nil)
	assertKind(t, err, minikafka.ErrInvalidArgument, codes.InvalidArgument)
	tooLarge := make([]byte, 1024*1024+1)
	_, err = client.Producer(topic).SendBatch(ctx, [][]byte{[]byte("fits"), tooLarge})
	assertKind(t, err, minikafka.ErrInvalidArgument, codes.InvalidArgument)
	if _, err := client.DescribeTopic(ctx, topic); !errors.Is(err, minikafka.ErrTopicNotFound) {
		t.Fatalf("refused batches created or filled the topic: %v", err)
	}
}

func TestReadingPastTheEndIsOutOfRange(t *testing.T) {
	client, topic, ctx := testClient(t), testTopic(t), testContext(t)
	if _, err := client.Producer(topic).Send(ctx, []byte("one")); err != nil {
		t.Fatal(err)
	}
	_, err := client.Consumer(topic, minikafka.At(5)).Poll(ctx, 0)
	assertKind(t, err, minikafka.ErrOutOfRange, codes.OutOfRange)
}

func TestAServerThatIsNotThereIsUnavailable(t *testing.T) {
	ctx := testContext(t)
	// Port 1 on loopback: nothing listens there.
	client, err := minikafka.Dial("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, err = client.Producer("t").Send(ctx, []byte("x"))
	assertKind(t, err, minikafka.ErrUnavailable, codes.Unavailable)
	var callError *minikafka.Error
	if !errors.As(err, &callError) || !callError.Retryable() {
		t.Fatalf("%v should be a retryable *Error", err)
	}
}

func TestALongPollReturnsAsSoonAsAMessageIsStored(t *testing.T) {
	client, topic, ctx := testClient(t), testTopic(t), testContext(t)
	consumer := client.Consumer(topic, minikafka.Earliest)
	type result struct {
		polled minikafka.Polled
		err    error
	}
	done := make(chan result, 1)
	go func() {
		// Waits for the topic to be created, then for its first message.
		polled, err := consumer.Poll(ctx, 30*time.Second)
		done <- result{polled, err}
	}()
	if _, err := client.Producer(topic).Send(ctx, []byte("wake up")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got.err != nil || len(got.polled.Messages) != 1 || string(got.polled.Messages[0].Payload) != "wake up" {
			t.Fatalf("long poll: %+v, %v", got.polled, got.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll did not return within 10 s of the message being stored")
	}
}

func TestALongPollOnAQuietTopicComesBackEmpty(t *testing.T) {
	client, topic, ctx := testClient(t), testTopic(t), testContext(t)
	if _, err := client.Producer(topic).Send(ctx, []byte("one")); err != nil {
		t.Fatal(err)
	}
	consumer := client.Consumer(topic, minikafka.End)
	started := time.Now()
	polled, err := consumer.Poll(ctx, 200*time.Millisecond)
	if err != nil || len(polled.Messages) != 0 {
		t.Fatalf("poll at the end: %+v, %v", polled, err)
	}
	if waited := time.Since(started); waited < 200*time.Millisecond {
		t.Fatalf("answered after %v, before its 200 ms wait ran out", waited)
	}
	if consumer.Position() != 2 {
		t.Fatalf("position %d at the end of a topic holding offset 1, want 2", consumer.Position())
	}
}

func TestSubscribeFromTheEndPushesOnlyNewMessages(t *testing.T) {
	client, topic, ctx := testClient(t), testTopic(t), testContext(t)
	producer := client.Producer(topic)
	if _, err := producer.Send(ctx, []byte("before")); err != nil {
		t.Fatal(err)
	}
	consumer := client.Consumer(topic, minikafka.End)
	subscription, err := consumer.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := make(chan minikafka.Polled)
	failed := make(chan error, 1)
	go func() {
		for {
			polled, err := subscription.Next()
			if err != nil {
				failed <- err
				return
			}
			next <- polled
		}
	}()
	// The server may take the subscription after any of these sends: send
	// until one is pushed, then check that nothing before it was.
	for sent := 0; ; sent++ {
		if _, err := producer.Send(ctx, []byte(fmt.Sprint("after ", sent))); err != nil {
			t.Fatal(err)
		}
		select {
		case polled := <-next:
			first := polled.Messages[0]
			if first.Offset < 2 || !strings.HasPrefix(string(first.Payload), "after ") || polled.Gap != nil {
				t.Fatalf("first pushed batch: %+v", polled)
			}
			last := polled.Messages[len(polled.Messages)-1]
			if consumer.Position() != last.Offset+1 {
				t.Fatalf("position %d after offset %d", consumer.Position(), last.Offset)
			}
			return
		case err := <-failed:
			t.Fatal(err)
		case <-time.After(100 * time.Millisecond):
			// Not subscribed yet, or the batch is on its way: send another.
		}
	}
}

func TestSubscribeFromAPositionThenFollows(t *testing.T) {
	client, topic, ctx := testClient(t), testTopic(t), testContext(t)
	producer := client.Producer(topic)
	if _, err := producer.SendBatch(ctx, [][]byte{[]byte("1"), []byte("2"), []byte("3")}); err != nil {
		t.Fatal(err)
	}
	consumer := client.Consumer(topic, minikafka.At(2))
	subscription, err := consumer.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 3 {
		polled, err := subscription.Next()
		if err != nil {
			t.Fatal(err)
		}
		for _, message := range polled.Messages {
			got = append(got, fmt.Sprintf("%d:%s", message.Offset, message.Payload))
		}
		if len(got) == 2 {
			if _, err := producer.Send(ctx, []byte("4")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if strings.Join(got, " ") != "2:2 3:3 4:4" {
		t.Fatalf("pushed %v, want 2:2 3:3 4:4", got)
	}
	if consumer.Position() != 5 {
		t.Fatalf("position %d, want 5", consumer.Position())
	}
}

func TestCancellingASubscriptionEndsIt(t *testing.T) {
	client, topic := testClient(t), testTopic(t)
	ctx, cancel := context.WithCancel(testContext(t))
	subscription, err := client.Consumer(topic, minikafka.Earliest).Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = subscription.Next()
	var callError *minikafka.Error
	if !errors.As(err, &callError) || callError.Code != codes.Canceled {
		t.Fatalf("Next after cancel: %v, want code Canceled", err)
	}
}

// assertKind checks that err is an *Error of this code, and of kind and
// no other.
func assertKind(t *testing.T, err error, kind error, code codes.Code) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%v is not %v", err, kind)
	}
	var callError *minikafka.Error
	if !errors.As(err, &callError) || callError.Code != code {
		t.Fatalf("%v: want an *Error with code %v", err, code)
	}
	for _, other := range []error{minikafka.ErrTopicNotFound, minikafka.ErrInvalidArgument, minikafka.ErrOutOfRange, minikafka.ErrUnavailable, minikafka.ErrDataLoss} {
		if other != kind && errors.Is(err, other) {
			t.Fatalf("%v is also %v", err, other)
		}
	}
}
