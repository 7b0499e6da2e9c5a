// Internal RPC derived from one table per service interface: method -> how its arguments and result
// cross the wire (zod schemas for the JSON arguments and the result, which argument is a byte
// stream, which result field is). The server parses the arguments, the client parses the answer, so
// neither side trusts the other's JSON; the table's type ties each result schema to the interface. Both the split service's controller (rpcController) and the client the other
// processes use (rpcClient) are built from the same table, so adding a method is one entry.
//
// Wire: POST /internal/v1/rpc/<service>/<method>.
//   arguments  JSON array in the body; with a stream argument, the JSON goes in `x-rpc-args` and the
//              stream is the body (its slot in the array is null)
//   result     JSON body (204 for undefined); with a stream result field, the rest of the result is
//              JSON in `x-rpc-result` and the stream is the body
//   errors     the OCI envelope, as every route answers, so a RegistryError crosses intact
// Buffers travel inside JSON as {"$bytes": base64}.
import { Controller, HttpCode, Inject, Param, Post, Req, Res, type Type } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { RegistryError, readCapped } from '@stevedore/oci';
import { Access } from './access-policy';
import { InternalClient } from './internal-http';

interface RpcArgs {
  /** The JSON arguments, in order (a stream argument's slot is `rpc.stream` here). */
  args: z.ZodTuple;
  /** Index of the argument that is a byte stream (it may be left out), sent as the request body. */
  streamArg?: number;
}

/** How one method crosses the wire; R is what the interface's method resolves to. */
export type RpcMethod<R = unknown> = RpcArgs &
  (
    | {
        /** The answer (undefined travels as 204). */
        result: z.ZodType<R>;
        streamResult?: undefined;
        omit?: undefined;
      }
    | {
        /** Field of the result that is a byte stream (it may be absent), sent as the response body. */
        streamResult: string;
        /** The result's JSON part: every field but the stream and `omit`. */
        result: z.ZodType<Partial<R>>;
        /** Result fields not sent (the stream carries them: a cached copy of the same bytes). */
        omit?: string[];
      }
  );

type ResultOf<F> = F extends (...args: never[]) => Promise<infer R> ? R : never;

/** One entry per method of the service interface S that crosses the wire. */
export type RpcTable<S> = { [K in keyof S]-?: RpcMethod<ResultOf<S[K]>> };

const MAX_JSON_BYTES = 64 * 1024 * 1024;
/** The JSON slot of a stream argument that was given. */
const STREAM = '$stream';
const arity = (spec: RpcMethod) => (spec.args.def.items as unknown[]).length;

/** JSON with Buffers: {"$bytes": base64} both ways. */
function encode(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    const raw = this[key];
    return Buffer.isBuffer(raw) ? { $bytes: raw.toString('base64') } : v;
  });
}
function decode(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) =>
    v && typeof v === 'object' && typeof (v as { $bytes?: unknown }).$bytes === 'string'
      ? Buffer.from((v as { $bytes: string }).$bytes, 'base64')
      : v,
  );
}
const header = (v: string) => Buffer.from(v).toString('base64url');
const unheader = (v: string | string[] | undefined) => (typeof v === 'string' ? Buffer.from(v, 'base64url').toString() : undefined);

/** What the other side sent, through its schema: a bad answer is the service's fault, so a 502. */
function parseResult(service: string, method: string, spec: RpcMethod, raw: unknown): unknown {
  const r = spec.result.safeParse(raw);
  if (!r.success)
    throw new RegistryError(
      'INTERNAL',
      `invalid answer from ${service}.${method}`,
      { issues: r.error.issues.slice(0, 10).map((i) => `${i.path.join('.')}: ${i.message}`) },
      502,
    );
  return r.data;
}

function parseArgs(name: string, spec: RpcMethod, raw: unknown): unknown[] {
  const r = spec.args.safeParse(raw);
  if (!r.success)
    throw new RegistryError('INVALID_REQUEST', `invalid arguments to ${name}`, {
      issues: r.error.issues.slice(0, 10).map((i) => `${i.path.join('.')}: ${i.message}`),
    });
  return r.data as unknown[];
}

/** The Nest controller that serves `impl` (the provider under `token`) to the other processes. */
export function rpcController<S extends object>(service: string, token: symbol | string, table: RpcTable<S>): Type<unknown> {
  @Access({ role: 'internal' })
  @Controller(`internal/v1/rpc/${service}`)
  class RpcController {
    constructor(@Inject(token) readonly impl: S) {}

    // 200 with a result, 204 without (Nest's default for POST would be 201: nothing is created).
    @Post(':method')
    @HttpCode(200)
    async call(@Param('method') method: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
      const spec = Object.prototype.hasOwnProperty.call(table, method) ? (table as Record<string, RpcMethod>)[method] : undefined;
      if (!spec) throw new RegistryError('NOT_FOUND', `${service} has no method ${method.slice(0, 80)}`);
      const body = ((req.body as Readable | undefined) ?? req.raw) as Readable;
      let args: unknown[];
      if (spec.streamArg !== undefined) {
        args = parseArgs(method, spec, decode(unheader(req.headers['x-rpc-args']) ?? '[]'));
        // The slot says whether the caller gave a stream (an empty body is not "no stream").
        if (args[spec.streamArg] === STREAM) args[spec.streamArg] = body;
        else {
          args[spec.streamArg] = undefined;
          body.resume();
        }
      } else {
        args = parseArgs(
          method,
          spec,
          decode((await readCapped(body, MAX_JSON_BYTES, 'INVALID_REQUEST', 'the arguments')).toString() || '[]'),
        );
      }
      const fn = (this.impl as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
      const result = await fn.apply(this.impl, args);
      if (result === undefined) {
        reply.code(204).send();
        return;
      }
      if (spec.streamResult && result && typeof result === 'object') {
        const { [spec.streamResult]: stream, ...rest } = result as Record<string, unknown>;
        for (const f of spec.omit ?? []) delete rest[f];
        reply.header('x-rpc-result', header(encode(rest)));
        if (!stream) reply.header('x-rpc-no-stream', '1');
        reply.header('content-type', 'application/octet-stream').send((stream as Readable | undefined) ?? Readable.from([]));
        return;
      }
      reply.header('content-type', 'application/json').send(encode(result));
    }
  }
  return RpcController;
}

/** A client of `service` at `baseUrl` implementing S from the same table. */
export function rpcClient<S extends object>(service: string, table: RpcTable<S>, baseUrl: string, token?: string): S {
  const http = new InternalClient(baseUrl, token);
  const client: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const [method, spec] of Object.entries(table) as Array<[string, RpcMethod]>) {
    client[method] = async (...args: unknown[]) => {
      const path = `/rpc/${service}/${method}`;
      let r;
      // Every slot sent, left-out arguments as null, so the tuple always has its length.
      const json = Array.from({ length: arity(spec) }, (_, i) => args[i] ?? null);
      if (spec.streamArg !== undefined) {
        const stream = args[spec.streamArg] as Readable | Buffer | undefined;
        json[spec.streamArg] = stream ? STREAM : null;
        r = await http.call({ method: 'POST', path, headers: { 'x-rpc-args': header(encode(json)) }, body: stream ?? Buffer.alloc(0) });
      } else {
        r = await http.call({ method: 'POST', path, body: Buffer.from(encode(json)), headers: { 'content-type': 'application/json' } });
      }
      if (r.status === 204) {
        r.body.resume();
        return parseResult(service, method, spec, undefined);
      }
      if (spec.streamResult) {
        let rest: Record<string, unknown>;
        try {
          rest = parseResult(service, method, spec, decode(unheader(r.headers['x-rpc-result']) ?? '{}')) as Record<string, unknown>;
        } catch (e) {
          r.body.resume();
          throw e;
        }
        if (r.headers['x-rpc-no-stream']) {
          r.body.resume();
          return rest;
        }
        return { ...rest, [spec.streamResult]: r.body };
      }
      return parseResult(service, method, spec, decode(await r.body.text()));
    };
  }
  return client as unknown as S;
}

/** zod pieces the tables share. */
export const rpc = {
  /** The slot of a stream argument (the bytes travel as the body). */
  stream: z.union([z.literal(STREAM), z.null()]),
  /** An optional argument: sent as null when left out. */
  optional: <T extends z.ZodType>(t: T) => t.nullable().transform((v) => v ?? undefined),
  bytes: z.instanceof(Buffer),
};
