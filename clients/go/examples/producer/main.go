// Command producer stores each line of standard input as one message,
// like mkfk-producer: lines are sent in batches of up to 1,000, each
// stored atomically. It says on standard error what it stored.
//
//	seq 1 20000 | go run ./examples/producer -topic numbers
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"

	minikafka "example.invalid/minikafka/clients/go"
)

const batchSize = 1000

func main() {
	host := flag.String("host", "127.0.0.1:9999", "the server's host:port")
	topic := flag.String("topic", "", "the topic to append to (created on first use)")
	token := flag.String("token", os.Getenv("MINIKAFKA_TOKEN"), "a token, for a server with tokens (default: $MINIKAFKA_TOKEN)")
	flag.Parse()
	if *topic == "" {
		fail("-topic is required")
	}
	client, err := minikafka.Dial(*host)
	if err != nil {
		fail(err.Error())
	}
	defer client.Close()
	if *token != "" {
		client = client.WithToken(*token)
	}
	// Idempotent, as mkfk-producer is: a batch whose answer was lost is
	// sent again without being stored twice.
	producer := client.Producer(*topic).Idempotent()

	var stored minikafka.Offsets
	count := 0
	batch := make([][]byte, 0, batchSize)
	send := func() {
		offsets, err := producer.SendBatch(context.Background(), batch)
		if err != nil {
			fail(fmt.Sprintf("%v (%d messages stored before)", err, count))
		}
		if count == 0 {
			stored.First = offsets.First
		}
		stored.Last = offsets.Last
		count += len(batch)
		batch = batch[:0]
	}
	lines := bufio.NewScanner(os.Stdin)
	lines.Buffer(make([]byte, 64*1024), 1024*1024)
	for lines.Scan() {
		// Scanner reuses its buffer: keep a copy.
		batch = append(batch, append([]byte(nil), lines.Bytes()...))
		if len(batch) == batchSize {
			send()
		}
	}
	if err := lines.Err(); err != nil {
		fail(fmt.Sprintf("reading standard input: %v", err))
	}
	if len(batch) > 0 {
		send()
	}
	if count == 0 {
		fmt.Fprintf(os.Stderr, "producer: no lines on standard input: nothing stored in '%s'\n", *topic)
		return
	}
	fmt.Fprintf(os.Stderr, "producer: stored %d messages in '%s' (offsets %d..%d)\n", count, *topic, stored.First, stored.Last)
}

func fail(message string) {
	fmt.Fprintf(os.Stderr, "producer: %s\n", message)
	os.Exit(1)
}
