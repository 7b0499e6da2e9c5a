// haproxy.cfg for the rig: the public frontend does what deploy/k8s/base/ingress.yaml does (every
// path, `/` Prefix, to the gateway Service: /v2, /api/v1, /auth, /admin, the web UI; the gateway runs
// blob bytes in process, so no route goes to blob-service), and one internal listener per
// replicated service stands in for its Kubernetes Service (one URL for the replicas).
//
// Why the retry settings are what they are:
// - `retries 3` + `option redispatch 1`: a connection that fails (a replica just killed with -9
//   refuses, or its socket is reset) is retried at once on *another* server, not the same one; a
//   health check needs up to `fall` intervals to notice the death, and no request waits for that.
// - `retry-on conn-failure empty-response junk-response response-timeout 502 504`: a request in flight on
//   a replica that dies gets no response at all (empty-response); it is resent to the other replica.
//   HAProxy can only resend what it still holds in its buffer: a request without a body, or a small
//   one (a manifest PUT); a streamed layer upload (request buffering off, as the ingress has it) is
//   not replayed, and its client sees the cut and retries, as docker and skopeo do.
//   503 is deliberately not retried: it is the platform's own "retry after 1 s" answer (Redis failing
//   over, an internal service unreachable), meant for the client with its Retry-After.
// - `http-request disable-l7-retry if METH_POST || { method PATCH }`: as ingress-nginx's
//   proxy_next_upstream, only idempotent methods (GET, HEAD, PUT, DELETE) are resent after the server
//   may have seen them; POST and PATCH (an upload's start and its chunks) only on a connection
//   failure, when the server certainly did not see them.
// - Health checks as the Deployments' readiness probes (GET /readyz every 5 s, 3 failures to
//   leave), so a Redis failover of 2-3 s does not take every replica out at once: requests keep
//   reaching the platform, which serves reads from storage or answers 503 + Retry-After itself.
//   A replica that refuses a connection is marked down at once (`observe layer4`, as the kubelet
//   sees its container exit), and a down replica is checked every second (`downinter 1s`), so a
//   restarted one takes traffic again as soon as its Redis, storage and queues answer (`rise 1`).
// - When no replica is ready (all readyz failing while Redis fails over) HAProxy answers 503 itself:
//   the errorfile gives that answer the same `Retry-After: 1` the platform sends, so a client treats
//   both alike.
// - Timeouts as the ingress: 1 h for client and server (multi-GB layer streams), no body limit.
// - Upload sessions stay on one replica (`stickyUploads`, the public listener; the Ingress's
//   `stevedore-uploads` does the same with `upstream-hash-by: $uri`): a session's PATCHes and its
//   closing PUT (`/v2/<name>/blobs/uploads/<id>`) are hashed by path, so the replica that hashed the
//   first chunk in memory gets the next one too. Round robin spread them, and every replica that got
//   a chunk after another had one re-read what was stored before it from storage (chunked pushes on
//   the rig at 0.71x of one replica). Consistent hashing moves only a dead replica's sessions, and
//   those resume as before: any replica can take any chunk, reading the stored ones once. The POST
//   that opens a session has no id yet and goes round robin. The upload servers `track` the main
//   backend's, so one health check per replica decides both.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Backend {
  /** Listener name (the Kubernetes Service it stands in for). */
  name: string;
  /** Where it listens on 127.0.0.1. */
  port: number;
  servers: Array<{ name: string; port: number }>;
  /** Hash upload-session paths onto one server (the public listener: see the header). */
  stickyUploads?: boolean;
}

/** An upload session's own URL: PATCH, PUT, GET and DELETE of `/v2/<name>/blobs/uploads/<id>`. */
export const UPLOAD_SESSION_PATH = '^/v2/.+/blobs/uploads/[^/]+$';

const NO_SERVER_503 = [
  'HTTP/1.1 503 Service Unavailable',
  'content-type: application/json',
  'retry-after: 1',
  'cache-control: no-cache',
  'connection: close',
  '',
  '{"errors":[{"code":"UNAVAILABLE","message":"no replica is ready (load balancer); retry after 1 s"}]}',
  '',
].join('\r\n');

export function haproxyConfig(dir: string, frontends: Backend[]): string {
  const errorfile = path.join(dir, '503.http');
  writeFileSync(errorfile, NO_SERVER_503);
  const lines = [
    'global',
    '  maxconn 4096',
    '  log stderr format short local0 notice',
    '',
    'defaults',
    '  mode http',
    '  log global',
    '  option dontlognull',
    '  option forwardfor',
    '  option redispatch 1',
    '  retries 3',
    '  retry-on conn-failure empty-response junk-response response-timeout 502 504',
    '  timeout connect 2s',
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout http-request 60s',
    '  timeout http-keep-alive 10s',
    '  timeout queue 10s',
    '  timeout check 3s',
    '  balance roundrobin',
    '  option httpchk',
    '  http-check send meth GET uri /readyz',
    '  http-check expect status 200',
    '  default-server inter 5s downinter 1s fall 3 rise 1 observe layer4 error-limit 1 on-error mark-down',
    `  errorfile 503 ${errorfile}`,
    '',
  ];
  const noL7RetryOfWrites = '  http-request disable-l7-retry if METH_POST || { method PATCH }';
  for (const f of frontends) {
    if (!f.stickyUploads) {
      lines.push(`listen ${f.name}`, `  bind 127.0.0.1:${f.port}`, noL7RetryOfWrites);
      for (const s of f.servers) lines.push(`  server ${s.name} 127.0.0.1:${s.port} check`);
      lines.push('');
      continue;
    }
    lines.push(
      `frontend ${f.name}`,
      `  bind 127.0.0.1:${f.port}`,
      `  use_backend ${f.name}-uploads if { path_reg ${UPLOAD_SESSION_PATH} }`,
      `  default_backend ${f.name}-servers`,
      '',
      `backend ${f.name}-servers`,
      noL7RetryOfWrites,
      ...f.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check`),
      '',
      `backend ${f.name}-uploads`,
      '  balance uri path-only',
      '  hash-type consistent',
      noL7RetryOfWrites,
      ...f.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} track ${f.name}-servers/${s.name}`),
      '',
    );
  }
  return lines.join('\n');
}
