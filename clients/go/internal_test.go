package minikafka

import (
	"errors"
	"testing"

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
