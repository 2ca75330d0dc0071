package worker

import (
	sdkworker "go.temporal.io/sdk/worker"
)

// registerFlows registers the flow engine: trigger runs and their actions.
func registerFlows(w sdkworker.Worker, opts Options) {
}
