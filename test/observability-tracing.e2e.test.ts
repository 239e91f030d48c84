// OpenTelemetry: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans reach an OTLP/HTTP receiver (a tiny
// one this suite runs) with the tenant's id and model as attributes, in all three models, for HTTP
// requests and for TenancyService.run.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import request from 'supertest';
import { TenancyService, type IsolationModel } from '../libs/tenancy/src';
import { TracingService } from '../src/observability/tracing';
import { startTestApp, type TestApp } from './support/test-app';

interface OtlpSpan {
  traceId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number; doubleValue?: number } }[];
}

/** An OTLP/HTTP (JSON) traces receiver: keeps every span posted to /v1/traces. */
function otlpReceiver(): { server: Server; spans: OtlpSpan[]; paths: string[] } {
  const spans: OtlpSpan[] = [];
  const paths: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return { server, spans, paths };
}

function attr(span: OtlpSpan, key: string): string | number | undefined {
  const v = span.attributes.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.doubleValue);
}

const TENANTS: { id: string; model: IsolationModel }[] = [
  { id: 'trace-db', model: 'database' },
  { id: 'trace-schema', model: 'schema' },
  { id: 'trace-shared', model: 'shared' },
];

describe('tracing with OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  const receiver = otlpReceiver();
  let t: TestApp;

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.server.listen(0, '127.0.0.1', r));
    const port = (receiver.server.address() as { port: number }).port;
    t = await startTestApp({
      tenants: TENANTS.map((x) => ({ id: x.id, name: x.id, strategy: x.model })),
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` },
    });
  });
  afterAll(async () => {
    await t?.close();
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    await new Promise((r) => receiver.server.close(r));
  });

  it('exports a server span per request with tenant.id and tenant.model, child of the caller’s traceparent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    for (const { id } of TENANTS) {
      const res = await request(t.http)
        .post('/users')
        .set({ 'X-Tenant-ID': id, traceparent: `00-${traceId}-00f067aa0ba902b7-01` })
        .send({ email: `ada@${id}.test`, name: 'Ada' });
      assert.equal(res.status, 201);
    }
    assert.equal((await request(t.http).get('/health')).status, 200);
    await t.app.get(TracingService).flush();
    assert.ok(
      receiver.paths.every((p) => p.startsWith('POST /v1/traces application/json')),
      receiver.paths.join(),
    );
    for (const { id, model } of TENANTS) {
      const span = receiver.spans.find((s) => s.name === 'POST /users' && attr(s, 'tenant.id') === id);
      assert.ok(span, `a span for ${id}: ${JSON.stringify(receiver.spans.map((s) => s.name))}`);
      assert.equal(attr(span, 'tenant.model'), model);
      assert.equal(attr(span, 'http.route'), '/users');
      assert.equal(attr(span, 'http.response.status_code'), 201);
      assert.equal(span.kind, 2, 'SERVER');
      assert.equal(span.traceId, traceId);
      assert.equal(span.parentSpanId, '00f067aa0ba902b7');
      assert.ok(Number(attr(span, 'tenancy.database_ms')) > 0);
    }
    const health = receiver.spans.find((s) => s.name === 'GET /health');
    assert.ok(health);
    assert.equal(attr(health, 'tenant.id'), undefined, 'a request without a tenant names none');
  });

  it('exports a tenancy.run span per TenancyService.run, with the tenant', async () => {
    for (const { id } of TENANTS) await t.app.get(TenancyService).run(id, () => undefined);
    await t.app.get(TracingService).flush();
    for (const { id, model } of TENANTS) {
      const span = receiver.spans.find((s) => s.name === 'tenancy.run' && attr(s, 'tenant.id') === id);
      assert.ok(span, `a run span for ${id}`);
      assert.equal(attr(span, 'tenant.model'), model);
    }
  });
});
