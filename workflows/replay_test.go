package workflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/triggerflow/triggerflow/internal/payloadcodec"
	"github.com/triggerflow/triggerflow/workflows"
)

// TestReplayHistories replays real histories of every workflow type
// (testdata/histories, recorded on the real stack by the apiserver test
// TestRecordWorkflowHistories) against the current workflow code. Files of
// an older recording stay when their workflow still has to replay them
// (FlowRunWorkflow.json: a run started whole, before runs were tried inline;
// FlowRunWorkflow-resumed.json: a run handed over by RunBatchWorkflow;
// DeliverBatchWorkflow-before-rounds.json: a group from before the changes
// DeliverBatchInput.Version stands for, which started its runs itself;
// DeliverBatchWorkflow-markers.json: a group handed over without a Version,
// its changes decided by GetVersion). A failure
// means a change would break workflows already running in production: make
// it behind workflow.GetVersion instead, and record new histories only when
// the old ones can no longer exist.
func TestReplayHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	codec, err := payloadcodec.New(strings.Repeat("5a", 32))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"DeliverBatchWorkflow": false, "DeliveryWorkflow": false,
		"WebhookQueueWorkflow": false, workflows.FlowRunWorkflowName: false, "RunBatchWorkflow": false, "CaseTimerWorkflow": false,
		"WebhookBacklogWorkflow": false}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatalf("read %s: %v", file, err)
			}
			typ := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName()
			if _, ok := want[typ]; ok {
				want[typ] = true
			}
			// The binary's clients encrypt payloads (internal/payloadcodec);
			// histories recorded before that hold plain payloads and must
			// still replay through the codec.
			r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: codec.DataConverter()})
			if err != nil {
				t.Fatal(err)
			}
			r.RegisterWorkflow(workflows.DeliverBatchWorkflow)
			r.RegisterWorkflow(workflows.DeliveryWorkflow)
			r.RegisterWorkflow(workflows.WebhookQueueWorkflow)
			r.RegisterWorkflowWithOptions(workflows.FlowRunWorkflow, workflow.RegisterOptions{Name: workflows.FlowRunWorkflowName})
			r.RegisterWorkflow(workflows.RunBatchWorkflow)
			r.RegisterWorkflow(workflows.CaseTimerWorkflow)
			r.RegisterWorkflow(workflows.WebhookBacklogWorkflow)
			if err := r.ReplayWorkflowHistory(nil, h); err != nil {
				t.Fatalf("%s (%s) does not replay: %v", file, typ, err)
			}
		})
	}
	for typ, seen := range want {
		if !seen {
			t.Errorf("no recorded history of %s in testdata/histories", typ)
		}
	}
}
