package minikafka

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "example.invalid/minikafka/clients/go/minikafkav1"
)

// The server's DATA_LOSS answer (its words and trailers, as
// server/src/status.rs sends them) becomes a *DataLossError.
func TestDataLossTrailersBecomeOffsets(t *testing.T) {
	message := "topic 't': offsets 5..=7 are damaged on disk and cannot be read; the first good offset after them is 8"
	trailer := metadata.Pairs(damagedFirstOffsetTrailer, "5", nextGoodOffsetTrailer, "8")
	err := fromCall(status.Error(codes.DataLoss, message), trailer)
	var damaged *DataLossError
	if !errors.As(err, &damaged) {
		t.Fatalf("%v is not a *DataLossError", err)
	}
	if damaged.DamagedFirstOffset != 5 || damaged.NextGoodOffset != 8 {
		t.Fatalf("offsets %d and %d, want 5 and 8", damaged.DamagedFirstOffset, damaged.NextGoodOffset)
	}
	if !errors.Is(err, ErrDataLoss) || errors.Is(err, ErrOutOfRange) {
		t.Fatalf("%v: kind", err)
	}
	if err.Error() != "minikafka: DataLoss: "+message {
		t.Fatalf("message %q", err)
	}
}

// A DATA_LOSS without both trailers is still an *Error of kind ErrDataLoss.
func TestDataLossWithoutTrailersIsStillDataLoss(t *testing.T) {
	trailer := metadata.Pairs(damagedFirstOffsetTrailer, "5")
	err := fromCall(status.Error(codes.DataLoss, "damaged"), trailer)
	var damaged *DataLossError
	if errors.As(err, &damaged) || !errors.Is(err, ErrDataLoss) {
		t.Fatalf("%#v", err)
	}
}

// A reply whose earliest offset is past the consumer's position means
// retention removed the messages in between; from the earliest (0) it
// never does.
func TestAReplyPastThePositionIsAGap(t *testing.T) {
	consumer := &Consumer{position: 3}
	polled := consumer.take(&pb.PollResponse{
		Messages:       []*pb.Message{{Offset: 10, Payload: []byte("x")}},
		NewReadFrom:    11,
		EarliestOffset: 10,
		NextOffset:     11,
	})
	if polled.Gap == nil || *polled.Gap != (Gap{First: 3, Last: 9}) || polled.Gap.Count() != 7 {
		t.Fatalf("gap %+v, want 3..9", polled.Gap)
	}
	if consumer.Position() != 11 || len(polled.Messages) != 1 {
		t.Fatalf("position %d, %d messages", consumer.Position(), len(polled.Messages))
	}
	fromEarliest := &Consumer{}
	if polled := fromEarliest.take(&pb.PollResponse{NewReadFrom: 11, EarliestOffset: 10, NextOffset: 11}); polled.Gap != nil {
		t.Fatalf("a read from the earliest reported a gap: %+v", polled.Gap)
	}
}

// The FAILED_PRECONDITION trailers become the typed errors; without one it
// stays a plain *Error.
func TestPreconditionTrailersBecomeTypedErrors(t *testing.T) {
	err := fromCall(status.Error(codes.FailedPrecondition, "sequence"), metadata.Pairs(expectedSequenceTrailer, "7"))
	var outOfOrder *SequenceOutOfOrderError
	if !errors.As(err, &outOfOrder) || outOfOrder.ExpectedSequence != 7 || status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("%#v", err)
	}
	err = fromCall(status.Error(codes.FailedPrecondition, "offset"), metadata.Pairs(nextOffsetTrailer, "12"))
	var mismatch *NextOffsetMismatchError
	if !errors.As(err, &mismatch) || mismatch.NextOffset != 12 || mismatch.Error() != "minikafka: FailedPrecondition: offset" {
		t.Fatalf("%#v", err)
	}
	err = fromCall(status.Error(codes.FailedPrecondition, "read-only"), nil)
	var plain *Error
	if errors.As(err, &outOfOrder) || errors.As(err, &mismatch) || !errors.As(err, &plain) {
		t.Fatalf("%#v", err)
	}
}

// A sequence that skips ahead is refused by a real server, with the
// sequence it expected, and nothing is stored; the lane is then dropped and
// the next batch goes out under a new producer id.
func TestASequenceGapIsRefusedWithTheExpectedSequence(t *testing.T) {
	client, err := Dial(os.Getenv("MINIKAFKA_TEST_HOST"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	topic := "go-sequence-gap-" + time.Now().Format("150405.000000000")
	producer := client.Producer(topic).Idempotent()
	if _, err := producer.Send(ctx, []byte("first")); err != nil {
		t.Fatal(err)
	}
	first := producer.lanes.idle[0]
	firstID := first.id
	first.next += 4
	_, err = producer.Send(ctx, []byte("skips ahead"))
	var outOfOrder *SequenceOutOfOrderError
	if !errors.As(err, &outOfOrder) || outOfOrder.ExpectedSequence != first.next-4 {
		t.Fatalf("%v: want a *SequenceOutOfOrderError expecting %d", err, first.next-4)
	}
	if len(producer.lanes.idle) != 0 {
		t.Fatal("the lane the server disagreed with was kept")
	}
	if offset, err := producer.Send(ctx, []byte("second")); err != nil || offset != 2 {
		t.Fatalf("offset %d, %v; want 2", offset, err)
	}
	if producer.lanes.idle[0].id == firstID {
		t.Fatal("the next batch reused the dropped producer id")
	}
}
