// Command go_workload is the franz-go client as a workload worker for the switch tests and the drill.
//
// It prints one JSON object per event on stdout, in the form of Kafka's VerifiableProducer and
// VerifiableConsumer (producer_send_success, record_data, offsets_committed), so the harness reads
// it like the Java tools. The client id is left at franz-go's default ("kgo"), the producer is
// idempotent with acks=all (franz-go's default), and the consumer commits synchronously after
// every poll, with rebalances blocked while a polled batch is not yet committed. SIGTERM stops it
// cleanly: the producer flushes, the consumer leaves its group.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type options struct {
	mode          string
	brokers       string
	topic         string
	group         string
	prefix        string
	rate          float64
	compression   string
	balancer      string
	groupProtocol string
	isolation     string
	sessionMs     int
}

var out = struct {
	sync.Mutex
	enc *json.Encoder
}{enc: json.NewEncoder(os.Stdout)}

// emit writes one event line; the encoder appends the newline the harness splits on.
func emit(name string, fields map[string]any) {
	fields["name"] = name
	out.Lock()
	defer out.Unlock()
	_ = out.enc.Encode(fields)
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "", "produce or consume")
	flag.StringVar(&o.brokers, "bootstrap-server", "", "seed brokers, comma separated")
	flag.StringVar(&o.topic, "topic", "", "topic")
	flag.StringVar(&o.group, "group-id", "", "consumer group (consume)")
	flag.StringVar(&o.prefix, "value-prefix", "", "values are <prefix>.<seq> (produce)")
	flag.Float64Var(&o.rate, "throughput", 200, "records per second (produce)")
	flag.StringVar(&o.compression, "compression", "snappy", "none, gzip, snappy, lz4 or zstd (produce)")
	flag.StringVar(&o.balancer, "balancer", "cooperative-sticky", "range or cooperative-sticky (classic groups)")
	flag.StringVar(&o.groupProtocol, "group-protocol", "classic", "classic or consumer (KIP-848)")
	flag.StringVar(&o.isolation, "isolation-level", "read_uncommitted", "read_uncommitted or read_committed")
	flag.IntVar(&o.sessionMs, "session-timeout", 45000, "classic session timeout, ms")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var err error
	switch o.mode {
	case "produce":
		err = produce(ctx, o)
	case "consume":
		err = consume(ctx, o)
	default:
		err = fmt.Errorf("unknown -mode %q", o.mode)
	}
	if err != nil {
		emit("fatal", map[string]any{"message": err.Error()})
		os.Exit(1)
	}
	emit("shutdown_complete", map[string]any{})
}

func codec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("unknown compression %q", name)
}

func produce(ctx context.Context, o options) error {
	compression, err := codec(o.compression)
	if err != nil {
		return err
	}
	client, err := kgo.NewClient(
		kgo.SeedBrokers(splitBrokers(o.brokers)...),
		kgo.DefaultProduceTopic(o.topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchCompression(compression),
	)
	if err != nil {
		return err
	}
	defer closeWithin(client, 15*time.Second)
	started := time.Now()
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	sent := 0
	for ctx.Err() == nil {
		due := int(time.Since(started).Seconds()*o.rate) + 1
		for ; sent < due; sent++ {
			value := o.prefix + "." + strconv.Itoa(sent)
			client.Produce(context.Background(), &kgo.Record{Value: []byte(value)}, onProduced)
		}
		select {
		case <-ctx.Done():
		case <-ticker.C:
		}
	}
	flushCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return client.Flush(flushCtx)
}

func onProduced(r *kgo.Record, err error) {
	if err != nil {
		emit("producer_send_error", map[string]any{"value": string(r.Value), "exception": fmt.Sprintf("%T", err),
			"message": err.Error()})
		return
	}
	emit("producer_send_success", map[string]any{"value": string(r.Value), "partition": r.Partition,
		"offset": r.Offset, "timestamp": time.Now().UnixMilli()})
}

func consume(ctx context.Context, o options) error {
	opts := []kgo.Opt{
		kgo.SeedBrokers(splitBrokers(o.brokers)...),
		kgo.ConsumeTopics(o.topic),
		kgo.ConsumerGroup(o.group),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	if o.isolation == "read_committed" {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	switch {
	case o.groupProtocol == "consumer":
		opts = append(opts, kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()))
	case o.groupProtocol != "classic":
		return fmt.Errorf("unknown -group-protocol %q", o.groupProtocol)
	case o.balancer == "range":
		opts = append(opts, kgo.Balancers(kgo.RangeBalancer()))
	case o.balancer == "cooperative-sticky":
		opts = append(opts, kgo.Balancers(kgo.CooperativeStickyBalancer()))
	default:
		return fmt.Errorf("unknown -balancer %q", o.balancer)
	}
	if o.groupProtocol == "classic" {
		session := time.Duration(o.sessionMs) * time.Millisecond
		opts = append(opts, kgo.SessionTimeout(session), kgo.HeartbeatInterval(min(3*time.Second, session/3)))
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer closeWithin(client, 15*time.Second)
	for ctx.Err() == nil {
		fetches := client.PollRecords(ctx, 100)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			break
		}
		fetches.EachError(reportFetchError)
		records := fetches.Records()
		for _, r := range records {
			emit("record_data", map[string]any{"value": string(r.Value), "partition": r.Partition, "offset": r.Offset})
		}
		if len(records) > 0 {
			commit(ctx, client, records)
		}
		client.AllowRebalance()
	}
	return nil
}

var lastReported = map[string]time.Time{}

// reportFetchError names an offset reset (franz-go's ErrDataLoss) apart from other fetch errors;
// the same error on the same partition is reported at most once a second (franz-go retries in a loop).
func reportFetchError(topic string, partition int32, err error) {
	var loss *kgo.ErrDataLoss
	if errors.As(err, &loss) {
		emit("offset_reset", map[string]any{"partition": partition, "message": err.Error()})
		return
	}
	key := fmt.Sprintf("%d %s", partition, err)
	if errors.Is(err, context.Canceled) || time.Since(lastReported[key]) < time.Second {
		return
	}
	lastReported[key] = time.Now()
	emit("error", map[string]any{"partition": partition, "message": err.Error()})
}

// closeWithin closes the client (a consumer leaves its group) but gives up after `limit`: a
// client stuck retrying must not outlive the harness's stop grace.
func closeWithin(client *kgo.Client, limit time.Duration) {
	closed := make(chan struct{})
	go func() {
		client.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(limit):
		emit("error", map[string]any{"message": fmt.Sprintf("client did not close within %s", limit)})
	}
}

func commit(ctx context.Context, client *kgo.Client, records []*kgo.Record) {
	err := client.CommitRecords(ctx, records...)
	next := map[int32]int64{}
	for _, r := range records {
		next[r.Partition] = max(next[r.Partition], r.Offset+1)
	}
	offsets := make([]map[string]any, 0, len(next))
	for partition, offset := range next {
		offsets = append(offsets, map[string]any{"topic": records[0].Topic, "partition": partition, "offset": offset})
	}
	event := map[string]any{"success": err == nil, "offsets": offsets}
	if err != nil {
		event["error"] = err.Error()
	}
	emit("offsets_committed", event)
}

func splitBrokers(list string) []string {
	var brokers []string
	for _, broker := range strings.Split(list, ",") {
		if broker != "" {
			brokers = append(brokers, broker)
		}
	}
	return brokers
}
