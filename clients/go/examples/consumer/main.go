// Command consumer prints the messages of a topic, one payload per line,
// like mkfk-consumer. By default it follows the topic (the server pushes
// each message as it is stored; a topic that does not exist yet is waited
// for); with -follow=false it prints what is there and exits. Gaps that
// retention left, and errors, go to standard error.
//
//	go run ./examples/consumer -topic numbers -from 19998 -max 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	minikafka "example.invalid/minikafka/clients/go"
)

func main() {
	host := flag.String("host", "127.0.0.1:9999", "the server's host:port")
	topic := flag.String("topic", "", "the topic to read")
	from := flag.String("from", "0", "an offset to start at (0: the earliest retained), or 'end'")
	maxMessages := flag.Int("max", 0, "exit after printing this many messages (0: no limit)")
	follow := flag.Bool("follow", true, "wait for new messages; -follow=false exits when caught up")
	token := flag.String("token", os.Getenv("MINIKAFKA_TOKEN"), "a token, for a server with tokens (default: $MINIKAFKA_TOKEN)")
	flag.Parse()
	if *topic == "" {
		fail(errors.New("-topic is required"))
	}
	start, err := parsePosition(*from)
	if err != nil {
		fail(err)
	}
	client, err := minikafka.Dial(*host)
	if err != nil {
		fail(err)
	}
	defer client.Close()
	if *token != "" {
		client = client.WithToken(*token)
	}
	consumer := client.Consumer(*topic, start)
	printer := printer{remaining: *maxMessages}
	if *follow {
		err = followTopic(consumer, &printer)
	} else {
		err = readToEnd(consumer, &printer)
	}
	if err != nil {
		fail(err)
	}
}

func parsePosition(value string) (minikafka.Position, error) {
	if value == "end" {
		return minikafka.End, nil
	}
	offset, err := strconv.ParseUint(value, 10, 64)
	if err != nil {
		return minikafka.Position{}, fmt.Errorf("-from %q is neither an offset (0: the earliest) nor 'end'", value)
	}
	return minikafka.At(offset), nil
}

// printer prints messages and counts down -max.
type printer struct {
	remaining int // 0: no limit
	printed   int
}

// print prints polled and says whether -max is reached.
func (p *printer) print(polled minikafka.Polled) (done bool) {
	if gap := polled.Gap; gap != nil {
		fmt.Fprintf(os.Stderr, "consumer: gap: retention removed %d unread messages (offsets %d..%d)\n", gap.Count(), gap.First, gap.Last)
	}
	for _, message := range polled.Messages {
		fmt.Printf("%s\n", message.Payload)
		p.printed++
		if p.remaining > 0 && p.printed == p.remaining {
			return true
		}
	}
	return false
}

func followTopic(consumer *minikafka.Consumer, printer *printer) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subscription, err := consumer.Subscribe(ctx)
	if err != nil {
		return err
	}
	for {
		polled, err := subscription.Next()
		if err != nil {
			return err
		}
		if printer.print(polled) {
			return nil
		}
	}
}

func readToEnd(consumer *minikafka.Consumer, printer *printer) error {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		polled, err := consumer.Poll(ctx, 0)
		cancel()
		if err != nil {
			return err
		}
		if len(polled.Messages) == 0 || printer.print(polled) {
			return nil
		}
	}
}

func fail(err error) {
	var damaged *minikafka.DataLossError
	if errors.As(err, &damaged) {
		fmt.Fprintf(os.Stderr, "consumer: %v\nconsumer: to go on past the damage, start again with -from %d\n", err, damaged.NextGoodOffset)
	} else {
		fmt.Fprintf(os.Stderr, "consumer: %v\n", err)
	}
	os.Exit(1)
}
