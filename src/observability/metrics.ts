import type {FastifyBaseLogger, FastifyInstance} from 'fastify'
import fp from 'fastify-plugin'
import {Counter, Gauge, Histogram, Registry, collectDefaultMetrics} from 'prom-client'
import {requestLineWriter} from './logging.js'
import {redactUrl} from './redact.js'

let processRegistry: Registry | undefined

/** Process metrics are per process, not per server: collected once, merged into every scrape. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry()
    collectDefaultMetrics({register: processRegistry})
    // prom-client names three gauges *_total (nodejs_active_handles_total, ...), which `promtool check metrics`
    // refuses: only counters end in _total. The same counts are there by type, in the gauges without the suffix.
    for (const m of processRegistry.getMetricsAsArray()) {
      if (m instanceof Gauge && m.name.endsWith('_total')) processRegistry.removeSingleMetric(m.name)
    }
  }
  return processRegistry
}

export interface MetricsRegistry {
  readonly registry: Registry
  readonly requests: Counter<'method' | 'route' | 'status'>
  readonly duration: Histogram<'method' | 'route' | 'status'>
  readonly contentType: string
  render(): Promise<string>
}

/** One registry per server, so two servers in one process keep their own counts. */
export function createMetrics(): MetricsRegistry {
  const registry = new Registry()
  const labelNames = ['method', 'route', 'status'] as const
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route template and status',
    labelNames,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  return {
    registry,
    requests,
    duration,
    contentType: registry.contentType,
    render: () => Registry.merge([registry, processMetrics()]).metrics(),
  }
}

/** One answered request, as the metrics and the request line see it. */
export interface Answered {
  reqId: string
  method: string
  /** the route template, e.g. /agents/:id */
  route: string
  url: string
  status: number
  elapsedMs: number
}

/**
 * Counts and times an answered request under its route template, and logs its one line:
 * what a server does for each response, and what an in-process caller of its operations
 * does for each call (InProcessL01), so a request is in the service's log and metrics either way.
 */
export function responseObserver(log: FastifyBaseLogger, metrics: MetricsRegistry): (a: Answered) => void {
  const logLine = requestLineWriter(log)
  return (a) => {
    const labels = {method: a.method, route: a.route, status: String(a.status)}
    metrics.requests.inc(labels)
    metrics.duration.observe(labels, a.elapsedMs / 1000)
    const ms = Math.round(a.elapsedMs * 10) / 10
    logLine({reqId: a.reqId, method: a.method, route: a.route, url: redactUrl(a.url), status: a.status, ms})
  }
}

/** Every response of the instance, observed under its route template. */
function observeHttp(app: FastifyInstance, metrics: MetricsRegistry): void {
  const observe = responseObserver(app.log, metrics)
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched'
    observe({reqId: req.id, method: req.method, route, url: req.url, status: reply.statusCode, elapsedMs: reply.elapsedTime})
  })
}

/** Counts, times and logs every response of the instance it is registered on, and serves GET /metrics (no key). */
export const metricsPlugin = fp<{metrics: MetricsRegistry}>(
  async (app, {metrics}) => {
    observeHttp(app, metrics)
    app.get('/metrics', async (_req, reply) => {
      reply.type(metrics.contentType)
      return metrics.render()
    })
  },
  {name: 'platform-metrics', fastify: '5.x'},
)
