// Command compat uses minikafka's compat API (proto/protocol) the way the
// original Go project's clients do: Produce one message at a time, then
// Poll from a message number and go on from new_read_from. Its protocol
// package is generated from proto/protocol/minikafka.proto with Debian's
// protoc-gen-go and protoc-gen-go-grpc, standing in for the original
// project's own generated package (the same .proto, the same generators),
// so it builds with no network. cmd/tests/go_client.rs runs it against a
// real mkfk-server and checks every line it prints.
//
//	go run . -host 127.0.0.1:9999 -topic "some topic"
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	"google.golang.org/grpc"

	"example.invalid/minikafka/compat/protocol"
)

func main() {
	host := flag.String("host", "127.0.0.1:9999", "the server's host:port")
	topic := flag.String("topic", "", "the topic (the original API takes any string)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("compat: ")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, *host, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		log.Fatalf("cannot connect to %s: %v", *host, err)
	}
	defer conn.Close()
	client := protocol.NewMiniKafkaClient(conn)

	var first uint32
	for _, payload := range []string{"hello", "world"} {
		number, err := client.Produce(ctx, &protocol.ProduceRequest{
			Topic:   &protocol.Topic{Topic: *topic},
			Payload: &protocol.Payload{Payload: []byte(payload)},
		})
		if err != nil {
			log.Fatalf("produce %q: %v", payload, err)
		}
		fmt.Printf("produced %q as message %d\n", payload, number.MsgNumber)
		if first == 0 {
			first = number.MsgNumber
		}
	}
	// From the first message, then from where that poll said to go on,
	// which is past the end: the original answers that with nothing.
	readFrom := first
	for i := 0; i < 2; i++ {
		reply, err := client.Poll(ctx, &protocol.PollRequest{
			Topic:    *topic,
			ReadFrom: &protocol.MsgNumber{MsgNumber: readFrom},
		})
		if err != nil {
			log.Fatalf("poll from %d: %v", readFrom, err)
		}
		payloads := make([]string, 0, len(reply.Payloads))
		for _, payload := range reply.Payloads {
			payloads = append(payloads, string(payload.Payload))
		}
		fmt.Printf("poll from %d: [%s], new_read_from %d\n", readFrom, strings.Join(payloads, " "), reply.NewReadFrom.GetMsgNumber())
		readFrom = reply.NewReadFrom.GetMsgNumber()
	}
}
