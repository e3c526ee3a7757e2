package minikafka_test

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	minikafka "example.invalid/minikafka/clients/go"
)

func TestAGroupsCommitIsKeptDescribedAndDeleted(t *testing.T) {
	client, topic, ctx := testClient(t), testTopic(t), testContext(t)
	group := topic + "-group"
	if _, err := client.Producer(topic).SendBatch(ctx, [][]byte{[]byte("a"), []byte("b"), []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if _, found, err := client.FetchOffset(ctx, group, topic); err != nil || found {
		t.Fatalf("before any commit: found %v, err %v", found, err)
	}
	if err := client.CommitOffset(ctx, group, topic, 2, "host-a"); err != nil {
		t.Fatal(err)
	}
	commit, found, err := client.FetchOffset(ctx, group, topic)
	if err != nil || !found || commit.Offset != 2 || commit.Metadata != "host-a" || commit.Time.IsZero() {
		t.Fatalf("commit %+v found %v err %v", commit, found, err)
	}
	if err := client.CommitOffset(ctx, group, topic, 5, ""); !errors.Is(err, minikafka.ErrOutOfRange) {
		t.Fatalf("past the next offset: %v, want ErrOutOfRange", err)
	}
	info, err := client.DescribeGroup(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Topics) != 1 || info.Topics[0].Lag != 2 || info.Topics[0].NextOffset != 4 || info.Topics[0].OldestUnreadAge <= 0 {
		t.Fatalf("describe: %+v", info)
	}
	groups, err := client.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, name := range groups {
		listed = listed || name == group
	}
	if !listed {
		t.Fatalf("%s not in %v", group, groups)
	}
	offset, err := client.OffsetForTime(ctx, topic, time.Now().Add(-time.Hour))
	if err != nil || offset != 1 {
		t.Fatalf("offset for an hour ago: %d, %v", offset, err)
	}
	if deleted, err := client.DeleteGroup(ctx, group); err != nil || deleted != 1 {
		t.Fatalf("delete: %d, %v", deleted, err)
	}
	if _, err := client.DescribeGroup(ctx, group); status.Code(err) != codes.NotFound {
		t.Fatalf("a deleted group: %v, want NotFound", err)
	}
}
