// Shared steps of the commit e2e suites: an API client, a base image pushed with skopeo from an OCI
// layout of real tar layers, containers, commits and job waiting.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { buildLayout, http, type Resp, type StevedoreUnderTest, type UncheckedJson } from '@stevedore/testing';

export const run = promisify(execFile);

export function expectStatus(r: Resp, status: number): UncheckedJson {
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.body.toString().slice(0, 600)}`);
  return r.body.length && (r.headers.get('content-type') ?? '').includes('json') ? r.json() : r.body;
}

export class Api {
  constructor(readonly sut: StevedoreUnderTest) {}
  call(method: string, path: string, body?: unknown): Promise<Resp> {
    return http(
      this.sut.url,
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
      body === undefined ? {} : { 'content-type': 'application/json' },
    );
  }
  raw(method: string, path: string, body: Buffer, type = 'application/octet-stream'): Promise<Resp> {
    return http(this.sut.url, method, path, body, { 'content-type': type });
  }
  async create(image: string): Promise<string> {
    return expectStatus(await this.call('POST', '/api/v1/containers', { image }), 201).id;
  }
  async write(id: string, path: string, content: string | Buffer, mode?: string): Promise<UncheckedJson> {
    return expectStatus(
      await this.raw(
        'PUT',
        `/api/v1/containers/${id}/files?path=${encodeURIComponent(path)}${mode ? `&mode=${mode}` : ''}`,
        Buffer.from(content),
      ),
      201,
    );
  }
  async op(id: string, op: Record<string, unknown>): Promise<UncheckedJson> {
    return expectStatus(await this.call('POST', `/api/v1/containers/${id}/ops`, op), 201);
  }
  async commit(spec: Record<string, unknown>): Promise<UncheckedJson> {
    const r = await this.call('POST', '/api/v1/commits', spec);
    if (r.status !== 202 && r.status !== 200) throw new Error(`commit: ${r.status} ${r.body}`);
    return r.json();
  }
  async wait(id: string, timeoutMs = 120_000): Promise<UncheckedJson> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const s = expectStatus(await this.call('GET', `/api/v1/jobs/${id}`), 200);
      if (s.state === 'completed' || s.state === 'failed') return s;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`job ${id} did not finish`);
  }
}

export const host = (sut: StevedoreUnderTest) => sut.url.replace(/^http:\/\//, '');

/** Push the OCI layout's `tag` as `name:tag` with skopeo (what a user with an image would do). */
export async function pushLayout(sut: StevedoreUnderTest, policy: string, layoutDir: string, tag: string, name: string): Promise<void> {
  await run('skopeo', [
    '--policy',
    policy,
    'copy',
    '--dest-tls-verify=false',
    '--dest-creds',
    `${sut.admin.user}:${sut.admin.password}`,
    `oci:${layoutDir}:${tag}`,
    `docker://${host(sut)}/${name}:${tag}`,
  ]);
}

/** A busybox-like base: two layers, /bin/httpd and /bin/sh, /etc files, a /var/www tree, /home. */
export function baseLayout(dir: string, tag = 'base'): ReturnType<typeof buildLayout> {
  return buildLayout(
    dir,
    tag,
    [
      {
        'bin/sh': '#!/bin/sh placeholder\n',
        'bin/httpd': '#!/bin/sh httpd placeholder\n',
        'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
        'home/.keep': '',
      },
      { 'etc/motd': 'welcome\n', 'var/www/index.html': '<h1>default</h1>\n', 'var/www/css/site.css': 'body{}\n' },
    ],
    { Cmd: ['/bin/sh'], Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'] },
  );
}

export async function tarOf(entries: Array<Partial<tar.Header> & { name: string; body?: string }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    const { body, ...h } = e;
    pack.entry({ mode: h.type === 'directory' ? 0o755 : 0o644, mtime: new Date(0), ...h } as tar.Header, body ?? '');
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
