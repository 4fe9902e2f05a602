"""Starts a batch as a Temporal workflow with the Temporal Python SDK and prints its result.

usage: start_batch.py WORKFLOW_ID INPUT_JSON    (env: TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE)
Prints the final Batch as one JSON line; a failed workflow prints its failure as one JSON line
({"error", "cause", "type", "message"}) and exits 1.
"""

import asyncio
import json
import os
import sys

from temporalio.client import Client, WorkflowFailureError


async def main() -> int:
    workflow_id, batch_input = sys.argv[1], json.loads(sys.argv[2])
    client = await Client.connect(os.environ.get("TEMPORAL_ADDRESS", "localhost:7233"))
    handle = await client.start_workflow(
        "batchWorkflow",
        batch_input,
        id=workflow_id,
        task_queue=os.environ.get("TEMPORAL_TASK_QUEUE", "batch-gateway"),
    )
    try:
        batch = await handle.result()
    except WorkflowFailureError as err:
        failure = {
            "error": type(err).__name__,  # WorkflowFailureError
            "cause": type(err.cause).__name__,  # ApplicationError
            "type": getattr(err.cause, "type", None),  # "InvalidBatchInput" for bad input
            "message": str(err.cause),
        }
        print(json.dumps(failure))
        return 1
    print(json.dumps(batch))
    return 0


if __name__ == "__main__":
    code = asyncio.run(main())
    sys.stdout.flush()
    # Skip interpreter teardown: the SDK's native threads can abort it after a clean run
    # ("Fatal Python error: PyGILState_Release", exit 134; temporalio/sdk-python#300).
    os._exit(code)
