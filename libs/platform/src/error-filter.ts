// The one place errors become HTTP answers: RegistryError renders as the OCI envelope; anything
// else is logged and answered as INTERNAL without leaking its message.
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { RegistryError, type ErrorCode } from '@stevedore/oci';
import type { FastifyReply } from 'fastify';

const STATUS_CODES: Record<number, ErrorCode> = { 400: 'INVALID_REQUEST', 401: 'UNAUTHORIZED', 403: 'DENIED', 404: 'NOT_FOUND', 405: 'UNSUPPORTED', 409: 'CONFLICT', 413: 'PAYLOAD_TOO_LARGE', 429: 'TOOMANYREQUESTS' };

export function toRegistryError(e: unknown, logger?: Logger): RegistryError {
  if (e instanceof RegistryError) return e;
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
  if (err.code === 'TOOMANYREQUESTS' && retry) headers = { 'retry-after': String(retry), ...headers };
  reply.code(err.status).headers(headers).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(err.envelope()));
}

@Catch()
export class RegistryExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('errors');
  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    sendRegistryError(reply, toRegistryError(exception, this.logger));
  }
}
