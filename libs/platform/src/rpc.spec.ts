// The derived RPC end to end over a real Fastify server: JSON arguments and results (Buffers
// included), a stream argument (given or left out), a stream result (present or absent), left-out
// optional arguments, arguments that fail their schema, unknown methods, and errors crossing intact.
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { RegistryError } from '@stevedore/oci';
import { RegistryExceptionFilter } from './error-filter';
import { rpc, rpcClient, rpcController, type RpcTable } from './rpc';

interface Echo {
  add(a: number, b?: number): Promise<number>;
  bytes(b: Buffer): Promise<{ length: number; copy: Buffer }>;
  upload(name: string, body?: Readable): Promise<{ name: string; got: string | null }>;
  download(n: number): Promise<{ size: number; stream?: Readable }>;
  nothing(): Promise<void>;
  fail(): Promise<never>;
  /** Its implementation answers a shape the table does not accept (a server of another version, a bug). */
  drift(): Promise<{ size: number }>;
}

const TABLE: RpcTable<Echo> = {
  add: { args: z.tuple([z.number(), rpc.optional(z.number())]), result: z.number() },
  bytes: { args: z.tuple([rpc.bytes]), result: z.object({ length: z.number(), copy: rpc.bytes }) },
  upload: {
    args: z.tuple([z.string().max(8), rpc.stream]),
    streamArg: 1,
    result: z.object({ name: z.string(), got: z.string().nullable() }),
  },
  download: { args: z.tuple([z.number().int().min(0)]), streamResult: 'stream', result: z.object({ size: z.number() }) },
  nothing: { args: z.tuple([]), result: z.undefined() },
  fail: { args: z.tuple([]), result: z.never() },
  drift: { args: z.tuple([]), result: z.object({ size: z.number() }) },
};

const ECHO = Symbol('echo');
const impl: Echo = {
  add: async (a, b) => a + (b ?? 100),
  bytes: async (b) => ({ length: b.length, copy: Buffer.concat([b, b]) }),
  upload: async (name, body) => {
    if (!body) return { name, got: null };
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    return { name, got: Buffer.concat(chunks).toString() };
  },
  download: async (n) => (n === 0 ? { size: 0 } : { size: n, stream: Readable.from([Buffer.alloc(n, 7)]) }),
  nothing: async () => undefined,
  fail: async () => {
    throw new RegistryError('CONFLICT', 'busy', { why: 'test' });
  },
  // What an implementation of another shape would send: the cast is the point of the test.
  drift: async () => ({ size: 'large' }) as unknown as { size: number },
};

let app: NestFastifyApplication;
let client: Echo;

beforeAll(async () => {
  @Module({ controllers: [rpcController<Echo>('echo', ECHO, TABLE)], providers: [{ provide: ECHO, useValue: impl }] })
  class EchoModule {}
  app = await NestFactory.create<NestFastifyApplication>(EchoModule, new FastifyAdapter(), { logger: false, bodyParser: false });
  // As the server does for internal routes: bodies reach handlers as raw streams.
  app
    .getHttpAdapter()
    .getInstance()
    .addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app
    .getHttpAdapter()
    .getInstance()
    .addContentTypeParser('application/json', (_req, payload, done) => done(null, payload));
  // As the server does: every error answers the OCI envelope.
  app.useGlobalFilters(new RegistryExceptionFilter());
  await app.listen(0, '127.0.0.1');
  client = rpcClient<Echo>('echo', TABLE, await app.getUrl());
});
afterAll(async () => {
  await app?.close();
});

describe('derived RPC', () => {
  it('carries JSON arguments and results, optional arguments left out, and Buffers', async () => {
    expect(await client.add(1, 2)).toBe(3);
    expect(await client.add(1)).toBe(101);
    const r = await client.bytes(Buffer.from('abc'));
    expect(r.length).toBe(3);
    expect(Buffer.isBuffer(r.copy) && r.copy.toString()).toBe('abcabc');
  });

  it('streams an argument, and says when there is none', async () => {
    expect(await client.upload('x', Readable.from([Buffer.from('hello '), Buffer.from('world')]))).toEqual({
      name: 'x',
      got: 'hello world',
    });
    expect(await client.upload('x')).toEqual({ name: 'x', got: null });
  });

  it('streams a result field, and leaves it out when the result has none', async () => {
    const r = await client.download(5000);
    expect(r.size).toBe(5000);
    const chunks: Buffer[] = [];
    for await (const c of r.stream!) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(Buffer.alloc(5000, 7))).toBe(true);
    expect(await client.download(0)).toEqual({ size: 0 });
    expect(await client.nothing()).toBeUndefined();
  });

  it('refuses arguments that fail the schema, and unknown methods; errors keep their code', async () => {
    await expect(client.upload('far too long a name')).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    // Cast: calls the method with a wrong argument type on purpose: the server side must refuse it.
    await expect((client as unknown as { add(a: string): Promise<number> }).add('1')).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(client.fail()).rejects.toMatchObject({ code: 'CONFLICT', message: 'busy' });
    const raw = await fetch(`${await app.getUrl()}/internal/v1/rpc/echo/constructor`, { method: 'POST', body: '[]' });
    expect(raw.status).toBe(404);
  });

  it('refuses an answer that fails the result schema, with a 502 that says which method', async () => {
    await expect(client.drift()).rejects.toMatchObject({ code: 'INTERNAL', status: 502, message: 'invalid answer from echo.drift' });
  });
});
