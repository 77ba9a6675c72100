// /metrics in the Prometheus text format (prom-client), one registry per server.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BufferPool } from '../../src/runtime/pool.ts';

export function serveMetrics(maxBatch: number, sources: { queueDepth: () => number; pool?: BufferPool }) {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({ name: 'diception_requests_total', help: 'HTTP requests answered, by route and status', labelNames: ['route', 'status'] as const, registers });
  const latency = new Histogram({
    name: 'diception_request_duration_seconds', help: 'time from request to response, by route', labelNames: ['route'] as const, registers,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  });
  const batches = new Histogram({
    name: 'diception_batch_size', help: 'requests per model call (micro-batching)', registers,
    buckets: [...Array(maxBatch).keys()].map((i) => i + 1),
  });
  new Gauge({ name: 'diception_queue_depth', help: 'requests waiting for the model', registers, collect() { this.set(sources.queueDepth()); } });
  new Gauge({ name: 'diception_gpu_live_bytes', help: 'GPU memory in tensors now', registers, collect() { this.set(sources.pool?.liveBytes ?? 0); } });
  new Gauge({ name: 'diception_gpu_peak_bytes', help: 'GPU memory held at the busiest point (tensors and pool cache) since the pipeline last reset the mark', registers, collect() { this.set(sources.pool?.peakBytes ?? 0); } });
  return { registry, requests, latency, batches };
}
