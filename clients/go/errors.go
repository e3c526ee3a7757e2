package minikafka

import (
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Kinds of failure, for errors.Is. Every error the client returns from a
// call is an *Error (or a *DataLossError wrapping one), and errors.Is
// matches it against the kind its status code stands for.
var (
	// ErrTopicNotFound: the topic does not exist (NOT_FOUND). Produce
	// creates topics; Poll and DescribeTopic do not.
	ErrTopicNotFound = errors.New("minikafka: topic not found")
	// ErrInvalidArgument: the request was refused as it stands: a bad topic
	// name, an empty batch, a payload over the server's limit
	// (INVALID_ARGUMENT). Retrying it unchanged fails the same way.
	ErrInvalidArgument = errors.New("minikafka: invalid argument")
	// ErrOutOfRange: a read position beyond the end of the topic, or a topic
	// whose offsets are used up (OUT_OF_RANGE). Offsets never go back, so a
	// position past the end is a bug in the caller.
	ErrOutOfRange = errors.New("minikafka: out of range")
	// ErrUnavailable: the server is shutting down or cannot be reached
	// (UNAVAILABLE). Safe to retry later; a subscription resumes from its
	// consumer's position.
	ErrUnavailable = errors.New("minikafka: server unavailable")
	// ErrDataLoss: a read reached records damaged on disk (DATA_LOSS). The
	// error is a *DataLossError that says where reading can go on.
	ErrDataLoss = errors.New("minikafka: data damaged on disk")
)

// kinds maps the status codes that have a kind of their own to it.
var kinds = map[codes.Code]error{
	codes.NotFound:        ErrTopicNotFound,
	codes.InvalidArgument: ErrInvalidArgument,
	codes.OutOfRange:      ErrOutOfRange,
	codes.Unavailable:     ErrUnavailable,
	codes.DataLoss:        ErrDataLoss,
}

// Error is a call the server (or the connection to it) failed, with the
// gRPC status code and the server's message, said once.
type Error struct {
	// Code is the gRPC status code; docs/api.md says what each means.
	Code codes.Code
	// Message is the server's explanation.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("minikafka: %s: %s", e.Code, e.Message)
}

// Is reports whether the error is of kind target (ErrTopicNotFound, ...).
func (e *Error) Is(target error) bool {
	kind, ok := kinds[e.Code]
	return ok && kind == target
}

// GRPCStatus lets status.FromError and status.Code see the original code.
func (e *Error) GRPCStatus() *status.Status {
	return status.New(e.Code, e.Message)
}

// Retryable reports whether the same call may succeed later unchanged: the
// server was restarting or shutting down, or its disk was full.
func (e *Error) Retryable() bool {
	return e.Code == codes.Unavailable || e.Code == codes.ResourceExhausted
}

// DataLossError is a read that reached records damaged on disk. The
// messages before the damage were returned by earlier reads; offsets
// DamagedFirstOffset up to NextGoodOffset-1 cannot be read. To go on past
// the damage, Seek the consumer to NextGoodOffset.
type DataLossError struct {
	// Err is the call's status: code DATA_LOSS and the server's message,
	// which names the topic and the damaged range.
	Err *Error
	// DamagedFirstOffset is the first offset that cannot be read.
	DamagedFirstOffset uint64
	// NextGoodOffset is the first readable offset after the damage.
	NextGoodOffset uint64
}

func (e *DataLossError) Error() string {
	return e.Err.Error()
}

// Unwrap gives the underlying *Error, so errors.Is(err, ErrDataLoss) holds.
func (e *DataLossError) Unwrap() error {
	return e.Err
}

// SequenceOutOfOrderError is an idempotent batch whose sequence the server
// did not expect from its producer (FAILED_PRECONDITION): it skipped ahead,
// or is older than the batches the server remembers. Nothing was stored.
type SequenceOutOfOrderError struct {
	// Err is the call's status, with the server's message.
	Err *Error
	// ExpectedSequence is the sequence the server expects next from the
	// producer.
	ExpectedSequence uint64
}

func (e *SequenceOutOfOrderError) Error() string {
	return e.Err.Error()
}

// Unwrap gives the underlying *Error.
func (e *SequenceOutOfOrderError) Unwrap() error {
	return e.Err
}

// GRPCStatus lets status.Code see the code (FAILED_PRECONDITION).
func (e *SequenceOutOfOrderError) GRPCStatus() *status.Status {
	return e.Err.GRPCStatus()
}

// NextOffsetMismatchError is a conditional append (SendRecordsExpecting)
// refused because the topic's next offset was not the one expected
// (FAILED_PRECONDITION). Nothing was stored.
type NextOffsetMismatchError struct {
	// Err is the call's status, with the server's message.
	Err *Error
	// NextOffset is the topic's actual next offset.
	NextOffset uint64
}

func (e *NextOffsetMismatchError) Error() string {
	return e.Err.Error()
}

// Unwrap gives the underlying *Error.
func (e *NextOffsetMismatchError) Unwrap() error {
	return e.Err
}

// GRPCStatus lets status.Code see the code (FAILED_PRECONDITION).
func (e *NextOffsetMismatchError) GRPCStatus() *status.Status {
	return e.Err.GRPCStatus()
}

// The trailers a DATA_LOSS or FAILED_PRECONDITION status carries (decimal
// numbers).
const (
	damagedFirstOffsetTrailer = "minikafka-damaged-first-offset"
	nextGoodOffsetTrailer     = "minikafka-next-good-offset"
	expectedSequenceTrailer   = "minikafka-expected-sequence"
	nextOffsetTrailer         = "minikafka-next-offset"
)

// fromCall turns a failed call's error and trailers into the client's
// error types; nil stays nil.
func fromCall(err error, trailer metadata.MD) error {
	if err == nil {
		return nil
	}
	converted := status.Convert(err)
	callError := &Error{Code: converted.Code(), Message: converted.Message()}
	if callError.Code == codes.FailedPrecondition {
		// Which trailer is there says which precondition failed.
		if expected, err := trailerOffset(trailer, expectedSequenceTrailer); err == nil {
			return &SequenceOutOfOrderError{Err: callError, ExpectedSequence: expected}
		}
		if next, err := trailerOffset(trailer, nextOffsetTrailer); err == nil {
			return &NextOffsetMismatchError{Err: callError, NextOffset: next}
		}
	}
	if callError.Code != codes.DataLoss {
		return callError
	}
	first, firstErr := trailerOffset(trailer, damagedFirstOffsetTrailer)
	next, nextErr := trailerOffset(trailer, nextGoodOffsetTrailer)
	if firstErr != nil || nextErr != nil {
		// Without both offsets there is nothing to add to the message.
		return callError
	}
	return &DataLossError{Err: callError, DamagedFirstOffset: first, NextGoodOffset: next}
}

func trailerOffset(trailer metadata.MD, name string) (uint64, error) {
	values := trailer.Get(name)
	if len(values) != 1 {
		return 0, fmt.Errorf("trailer %s: want one value, got %d", name, len(values))
	}
	return strconv.ParseUint(values[0], 10, 64)
}
