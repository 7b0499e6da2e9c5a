// Structured JSON logs (pino through nestjs-pino). Every line of a request carries its request id;
// credentials are redacted wherever they could appear.
import { LoggerModule, PinoLogger } from 'nestjs-pino';
import type { DynamicModule } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StevedoreConfig } from './config';
import { REQUEST_ID_HEADER, currentRequestId } from './request-context';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-stevedore-internal-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.secret',
  '*.secretKey',
];

/** Probes and scrapes: their answers are never logged, they would drown everything else (a readiness 503 every few seconds while Redis is down). */
const isProbeOrScrape = (req: IncomingMessage): boolean => /^\/(healthz|readyz|metrics)/.test(req.url ?? '');

/** Levels at which pino-http writes its line per answered request (it logs them at info). */
const REQUEST_LINE_LEVELS: ReadonlySet<string> = new Set(['info', 'debug', 'trace']);

export function loggingModule(config: StevedoreConfig): DynamicModule {
  return LoggerModule.forRoot({
    // Above info no request line is ever written, and the request id reaches every other line
    // through the mixin below; the per-request logger (two child loggers, listeners and an
    // AsyncLocalStorage scope a request) would cost CPU for nothing, so no route gets it.
    forRoutes: REQUEST_LINE_LEVELS.has(config.LOG_LEVEL) ? undefined : [],
    pinoHttp: {
      level: config.LOG_LEVEL,
      base: { service: config.STEVEDORE_TARGET },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      genReqId: (req: IncomingMessage) => currentRequestId() ?? String(req.headers[REQUEST_ID_HEADER] ?? ''),
      // The request id joins a line when the line is written, not as bindings of a child logger made
      // for every request (customProps): pino-http made two more children per request for them,
      // each re-running the serializers and redaction. Those children cost about a fifth of
      // the CPU of a blob HEAD at LOG_LEVEL=warn, where no request line is ever written.
      mixin: () => {
        const requestId = currentRequestId();
        return requestId ? { requestId } : {};
      },
      autoLogging: { ignore: isProbeOrScrape },
      serializers: {
        req: (req: { method: string; url: string; id: unknown }) => ({
          method: req.method,
          url: String(req.url).replace(/([?&](?:password|token|access_token|refresh_token)=)[^&]*/gi, '$1[redacted]'),
          id: req.id,
        }),
      },
      quietReqLogger: true,
    },
  });
}

/**
 * Above info no request line is written (loggingModule gives no route pino-http's middleware), so an
 * answered 5xx left nothing in the log, only a metric. The function returned here, called for every
 * answer (bootstrap's onResponse hook), writes one line at error for each 5xx, with the fields of
 * pino-http's own line (req, res.statusCode, responseTime, msg 'request errored') and the request id
 * (the mixin). At info and below pino-http's line already says it, so there is none. Per answer it
 * costs one comparison.
 */
export function serverErrorLogger(
  config: StevedoreConfig,
): ((req: IncomingMessage, res: ServerResponse, elapsedMs: number) => void) | undefined {
  if (REQUEST_LINE_LEVELS.has(config.LOG_LEVEL)) return undefined;
  return (req, res, elapsedMs) => {
    if (res.statusCode >= 500 && !isProbeOrScrape(req))
      PinoLogger.root.error({ req, res, responseTime: Math.round(elapsedMs) }, 'request errored');
  };
}
