// Every workflow the worker registers. Workflow code is deterministic: no I/O, no Node built-ins.
export { batchWorkflow } from './batch';
export { modelShardWorkflow } from './model-shard';
export { gcWorkflow } from './gc';
export { webhookDeliveryWorkflow } from './webhook-delivery';
