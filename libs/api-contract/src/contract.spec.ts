import { z } from 'zod';
import { apiRoutes, routeFor, type ApiRoute } from './routes';
import { openApiComponents, openApiPaths } from './openapi';
import { CommitSpecSchema } from './commits';
import { ContainerSchema, FileOpRequestSchema } from './containers';
import { UpstreamRequestSchema } from './upstreams';

const all = Object.values(apiRoutes) as ApiRoute[];

describe('route table', () => {
  it('names each method and path once, every path under /api/v1', () => {
    const keys = all.map((r) => `${r.method} ${r.path}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const r of all) expect(r.path.startsWith('/api/v1/')).toBe(true);
  });

  it('gives every 2xx answer other than 204 a JSON schema or a media type', () => {
    for (const r of all) {
      if (r.status === 204) expect({ route: r.path, response: r.response, produces: r.produces }).toEqual({ route: r.path });
      else
        expect({ route: `${r.method} ${r.path}`, described: !!r.response !== !!r.produces }).toEqual({
          route: `${r.method} ${r.path}`,
          described: true,
        });
    }
  });

  it('finds the route of a concrete path, and none for a path it does not have', () => {
    expect(routeFor('get', '/api/v1/jobs/abc-1?x=1')).toBe(apiRoutes.job);
    expect(routeFor('GET', '/api/v1/jobs/abc-1/events')).toBe(apiRoutes.jobEvents);
    expect(routeFor('POST', '/api/v1/commits:batch')).toBe(apiRoutes.commitBatch);
    expect(routeFor('GET', '/api/v1/jobs/a/b')).toBeUndefined();
    expect(routeFor('PATCH', '/api/v1/images')).toBeUndefined();
  });
});

describe('OpenAPI parts', () => {
  const paths = openApiPaths();

  it('documents the request body of every route that takes JSON, users and upstreams included', () => {
    const body = (p: string, m: string) => paths[p][m].requestBody?.content['application/json'].schema as Record<string, unknown>;
    expect(body('/api/v1/users', 'post')).toMatchObject({ type: 'object', required: ['name', 'password'] });
    expect(body('/api/v1/upstreams', 'post')).toMatchObject({ type: 'object', required: ['url'] });
    expect(Object.keys(body('/api/v1/upstreams', 'post').properties as object)).toEqual(
      expect.arrayContaining(['id', 'url', 'prefixes', 'default', 'username', 'password']),
    );
    // A request's defaults are optional to the client; a transform is described by what it accepts.
    expect(body('/api/v1/commits', 'post')).toMatchObject({ required: ['container', 'reference'] });
    expect(JSON.stringify(body('/api/v1/containers/{id}/ops', 'post'))).toContain('"pattern":"^[0-7]{1,4}$"');
    for (const r of all.filter((x) => x.body)) expect(paths[r.path][r.method.toLowerCase()].requestBody).toBeDefined();
  });

  it('documents answers with their schema and errors as the OCI envelope', () => {
    const ok = paths['/api/v1/containers/{id}']['get'].responses['200'];
    expect(ok.content?.['application/json'].schema).toMatchObject({
      type: 'object',
      required: expect.arrayContaining(['id', 'image', 'state']),
    });
    expect(paths['/api/v1/containers/{id}']['delete'].responses['204']).toEqual({ description: 'No content' });
    expect(paths['/api/v1/commits']['post'].responses).toHaveProperty('200');
    expect(openApiComponents().schemas['ErrorEnvelope']).toMatchObject({ required: ['errors'] });
  });
});

describe('schemas', () => {
  it('applies request defaults and transforms the server relies on', () => {
    expect(CommitSpecSchema.parse({ container: 'c', reference: 'r' })).toEqual({
      container: 'c',
      reference: 'r',
      changes: [],
      pause: true,
    });
    expect(FileOpRequestSchema.parse({ op: 'chmod', path: '/x', mode: '0755' })).toEqual({ op: 'chmod', path: '/x', mode: 0o755 });
    expect(UpstreamRequestSchema.parse({ url: 'https://r.example', prefixes: ['hub/'] })).toMatchObject({
      prefixes: ['hub'],
      default: false,
    });
    expect(UpstreamRequestSchema.safeParse({ url: 'ftp://r.example' }).success).toBe(false);
    expect(UpstreamRequestSchema.safeParse({ url: 'https://r.example', extra: 1 }).success).toBe(false);
  });

  it('refuses an answer that lacks a field or has the wrong type', () => {
    const container = {
      id: 'c1',
      image: {
        reference: 'a:1',
        repository: 'a',
        manifestDigest: `sha256:${'a'.repeat(64)}`,
        configDigest: `sha256:${'b'.repeat(64)}`,
        layers: [],
      },
      createdAt: '2026-01-01T00:00:00.000Z',
      state: 'running',
      pausedBy: [],
      generation: 0,
      upperEntries: 0,
    };
    expect(ContainerSchema.parse(container)).toEqual(container);
    expect(ContainerSchema.safeParse({ ...container, state: 'stopped' }).success).toBe(false);
    const { upperEntries: _, ...missing } = container;
    expect(ContainerSchema.safeParse(missing).success).toBe(false);
    expect(ContainerSchema.safeParse({ ...container, image: { ...container.image, manifestDigest: 'abc' } }).success).toBe(false);
  });

  it('turns every schema of the table into JSON Schema', () => {
    for (const r of all)
      for (const s of [r.body, r.response]) if (s) expect(() => z.toJSONSchema(s, { unrepresentable: 'any' })).not.toThrow();
  });
});

describe('query strings', () => {
  const paths = openApiPaths();

  it('documents every query parameter a route accepts, required ones as required', () => {
    for (const r of all.filter((x) => x.query)) {
      const op = paths[r.path][r.method.toLowerCase()];
      expect((op.parameters ?? []).map((p) => p.name).sort()).toEqual(Object.keys(r.query!.shape).sort());
    }
    const remove = paths['/api/v1/images']['delete'].parameters!;
    expect(remove.find((p) => p.name === 'ref')).toMatchObject({ in: 'query', required: true });
    expect(remove.find((p) => p.name === 'force')).toMatchObject({ in: 'query', required: false });
  });

  it('refuses what the handlers used to check by hand, and takes what clients send', () => {
    const list = apiRoutes.listImages.query;
    for (const n of ['0', '1e3', '0x10', '-1', '']) expect(list.safeParse({ n }).success).toBe(false);
    expect(list.safeParse({ n: '25', repository: 'a/b', last: 'a/b:1' }).success).toBe(true);
    expect(apiRoutes.inspectImage.query.safeParse({}).success).toBe(false);
    expect(apiRoutes.writeFile.query.safeParse({ path: '/etc/motd', mode: '0644', uid: '0' }).success).toBe(true);
    expect(apiRoutes.writeFile.query.safeParse({ path: '/etc/motd', mode: '0999' }).success).toBe(false);
    expect(apiRoutes.putArchive.query.safeParse({ mode: 'tarball' }).success).toBe(false);
    // A repeated parameter arrives as an array.
    expect(apiRoutes.importRootfs.query.safeParse({ ref: 'a:1', change: ['CMD ["sh"]', 'ENV A=1'] }).success).toBe(true);
  });
});
