// The one place errors become HTTP answers: RegistryError renders as the OCI envelope; anything
// else is logged and answered as INTERNAL without leaking its message.
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { RegistryError, type ErrorCode } from '@stevedore/oci';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isRedisUnavailable } from './redis';

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'INVALID_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'DENIED',
  404: 'NOT_FOUND',
  405: 'UNSUPPORTED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'TOOMANYREQUESTS',
};

export function toRegistryError(e: unknown, logger?: Logger): RegistryError {
  if (e instanceof RegistryError) return e;
  // Redis gone or not answering: the client may retry shortly; nothing is wrong with its request.
  if (isRedisUnavailable(e))
    return new RegistryError('UNAVAILABLE', 'the index store (Redis) is unavailable; retry shortly', { retryAfterSeconds: 1 }, 503);
  if (e instanceof HttpException) {
    const status = e.getStatus();
    return new RegistryError(STATUS_CODES[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_REQUEST'), e.message, undefined, status);
  }
  const fst = e as { statusCode?: number; code?: string; message?: string };
  if (fst && typeof fst.statusCode === 'number' && fst.statusCode < 500) {
    // Fastify's own errors (body too large, bad content type) carry a status and a safe message.
    const code = fst.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : (STATUS_CODES[fst.statusCode] ?? 'INVALID_REQUEST');
    return new RegistryError(code, fst.message, undefined, fst.statusCode);
  }
  logger?.error(e instanceof Error ? e.stack : String(e));
  return new RegistryError('INTERNAL');
}

export function sendRegistryError(reply: FastifyReply, err: RegistryError, headers: Record<string, string> = {}): void {
  if (reply.sent) return;
  const retry = (err.detail as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
  if ((err.code === 'TOOMANYREQUESTS' || err.code === 'UNAVAILABLE') && retry) headers = { 'retry-after': String(retry), ...headers };
  reply.code(err.status).headers(headers).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(err.envelope()));
}

/** Request bodies up to this size are read to the end after an early answer; larger ones close the connection. */
export const DRAIN_LIMIT_BYTES = 16 * 2 ** 20;

@Catch()
export class RegistryExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('errors');
  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const req = host.switchToHttp().getRequest<FastifyRequest>();
    // A request refused before its body was read to the end (a bad archive, a bomb, a paused
    // container): the rest of the body is still on the connection, so it cannot carry another
    // request until it is read. Up to 16 MiB more is read and dropped (clients that send the whole
    // body before reading the answer then get it, as Go's net/http does); a body declared larger
    // closes the connection after the answer, and one that turns out larger is cut off.
    const unread = !!req?.raw && !req.raw.readableEnded && !req.raw.complete;
    const declared = Number(req?.headers?.['content-length']);
    const drain = unread && !(Number.isFinite(declared) && declared > DRAIN_LIMIT_BYTES);
    if (drain) {
      // A reader that stopped without letting go (backpressure) would pause the request again.
      req.raw.unpipe();
      let drained = 0;
      req.raw.on('data', (c: Buffer) => {
        drained += c.length;
        if (drained > DRAIN_LIMIT_BYTES) req.raw.destroy();
      });
      req.raw.resume();
    }
    sendRegistryError(reply, toRegistryError(exception, this.logger), unread && !drain ? { connection: 'close' } : {});
  }
}
