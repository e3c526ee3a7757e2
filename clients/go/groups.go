package minikafka

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "example.invalid/minikafka/clients/go/minikafkav1"
)

// Commit is a group's committed position in one topic. A group is a named,
// durable position per topic kept by the server; consumers sharing a
// group share it, and the last commit wins.
type Commit struct {
	// Offset is the next offset the group reads (Kafka's convention: after
	// processing offsets 1 to 10, a group commits 11).
	Offset uint64
	// Time is when the server stored the commit.
	Time time.Time
	// Metadata is what the application stored with it; empty when none.
	Metadata string
}

// GroupTopic is a group's position in one topic, and how far behind it is.
type GroupTopic struct {
	Topic  string
	Commit Commit
	// NextOffset is the offset the topic's next message will get.
	NextOffset uint64
	// EarliestOffset is the topic's earliest retained offset.
	EarliestOffset uint64
	// Lag is how many retained messages the group has not read.
	Lag uint64
	// OldestUnreadAge is how long ago the oldest unread message was
	// stored; zero when the group has read everything.
	OldestUnreadAge time.Duration
	// ExpiredUnread is how many messages retention removed before the
	// group read them.
	ExpiredUnread uint64
}

// GroupInfo is a group's position and lag in each topic it committed in,
// sorted by topic.
type GroupInfo struct {
	Name   string
	Topics []GroupTopic
}

func commitOf(commit *pb.OffsetCommit) Commit {
	return Commit{Offset: commit.GetOffset(), Time: timeOf(commit.GetCommitTime()), Metadata: commit.GetMetadata()}
}

// CommitOffset stores group's position in topic: offset is the next offset
// the group reads, from 1 to the topic's next offset (ErrOutOfRange
// otherwise; lower than before rewinds the group). meta (at most 4 KiB;
// empty: none) is stored with it. An unknown topic is ErrTopicNotFound.
func (c *Client) CommitOffset(ctx context.Context, group, topic string, offset uint64, meta string) error {
	ctx, cancel := c.callContext(ctx, 0)
	defer cancel()
	request := &pb.CommitOffsetRequest{Group: group, Topic: topic, Offset: offset}
	if meta != "" {
		request.Metadata = &meta
	}
	var trailer metadata.MD
	_, err := c.api.CommitOffset(ctx, request, grpc.Trailer(&trailer))
	return fromCall(err, trailer)
}

// FetchOffset is group's commit in topic; found is false when it has none.
func (c *Client) FetchOffset(ctx context.Context, group, topic string) (commit Commit, found bool, err error) {
	ctx, cancel := c.callContext(ctx, 0)
	defer cancel()
	var trailer metadata.MD
	reply, err := c.api.FetchOffset(ctx, &pb.FetchOffsetRequest{Group: group, Topic: topic}, grpc.Trailer(&trailer))
	if err != nil {
		return Commit{}, false, fromCall(err, trailer)
	}
	if reply.GetCommit() == nil {
		return Commit{}, false, nil
	}
	return commitOf(reply.GetCommit()), true, nil
}

// OffsetForTime is where a read of topic from t starts: the first message
// stored at or after t (the topic's next offset when none is that new).
func (c *Client) OffsetForTime(ctx context.Context, topic string, t time.Time) (uint64, error) {
	ctx, cancel := c.callContext(ctx, 0)
	defer cancel()
	var trailer metadata.MD
	reply, err := c.api.OffsetForTime(ctx, &pb.OffsetForTimeRequest{Topic: topic, Time: timestamppb.New(t)}, grpc.Trailer(&trailer))
	if err != nil {
		return 0, fromCall(err, trailer)
	}
	return reply.GetOffset(), nil
}

// ListGroups names every group, sorted, asking a page at a time.
func (c *Client) ListGroups(ctx context.Context) ([]string, error) {
	var groups []string
	token := ""
	for {
		callCtx, cancel := c.callContext(ctx, 0)
		var trailer metadata.MD
		reply, err := c.api.ListGroups(callCtx, &pb.ListGroupsRequest{PageSize: c.listPageSize, PageToken: token}, grpc.Trailer(&trailer))
		cancel()
		if err != nil {
			return nil, fromCall(err, trailer)
		}
		groups = append(groups, reply.GetGroups()...)
		if reply.GetNextPageToken() == "" {
			return groups, nil
		}
		token = reply.GetNextPageToken()
	}
}

// DescribeGroup is group's position, lag and oldest unread message's age
// in each topic; a group with no commit is an *Error with code NotFound.
func (c *Client) DescribeGroup(ctx context.Context, group string) (GroupInfo, error) {
	ctx, cancel := c.callContext(ctx, 0)
	defer cancel()
	var trailer metadata.MD
	reply, err := c.api.DescribeGroup(ctx, &pb.DescribeGroupRequest{Group: group}, grpc.Trailer(&trailer))
	if err != nil {
		return GroupInfo{}, fromCall(err, trailer)
	}
	info := GroupInfo{Name: reply.GetName()}
	for _, t := range reply.GetTopics() {
		info.Topics = append(info.Topics, GroupTopic{
			Topic:           t.GetTopic(),
			Commit:          commitOf(t.GetCommit()),
			NextOffset:      t.GetNextOffset(),
			EarliestOffset:  t.GetEarliestOffset(),
			Lag:             t.GetLag(),
			OldestUnreadAge: t.GetOldestUnreadAge().AsDuration(),
			ExpiredUnread:   t.GetExpiredUnread(),
		})
	}
	return info, nil
}

// DeleteGroup removes group's commits in every topic and says how many it
// had; a group with no commit is an *Error with code NotFound.
func (c *Client) DeleteGroup(ctx context.Context, group string) (uint64, error) {
	ctx, cancel := c.callContext(ctx, 0)
	defer cancel()
	var trailer metadata.MD
	reply, err := c.api.DeleteGroup(ctx, &pb.DeleteGroupRequest{Group: group}, grpc.Trailer(&trailer))
	if err != nil {
		return 0, fromCall(err, trailer)
	}
	return reply.GetCommitsDeleted(), nil
}
