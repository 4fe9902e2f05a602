// GET /metrics on the API's port (Prometheus text, no API key, like /health) and the timing of every request.
import type { FastifyInstance } from 'fastify';
import { metricsText } from '../observability/metrics';
import {
  observeHttpRequest,
  registerBatchStatusGauge,
  type CountByStatus,
} from '../observability/metrics-api';

/**
 * Times every request by route template and status, and serves the process's registry at /metrics.
 * No tenant names, ids or keys are labels: routes are templates, batch counts go by status only.
 */
export function registerMetricsRoute(app: FastifyInstance, deps: { countByStatus: CountByStatus }): void {
  registerBatchStatusGauge(deps.countByStatus);
  app.addHook('onResponse', async (req, reply) => {
    observeHttpRequest(req.method, req.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get('/metrics', async (_req, reply) => {
    const { contentType, body } = await metricsText();
    return reply.header('content-type', contentType).send(body);
  });
}
