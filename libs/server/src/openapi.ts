// The management API's OpenAPI document: @nestjs/swagger finds every /api/v1 route and its
// parameters on the controllers; request bodies, answers and errors come from the API contract
// (libs/api-contract), so no shape is written twice. The /v2 registry API has its own spec;
// health, metrics and internal routes are not management.
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { openApiComponents, openApiPaths } from '@stevedore/api-contract';

export const MANAGEMENT_PREFIX = '/api/v1/';

export function managementDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Stevedore management API')
    .setDescription('Images, containers, commits, jobs, users, upstreams and storage hygiene. Errors use the OCI error envelope.')
    .setVersion('1')
    .addBearerAuth()
    .addBasicAuth()
    .build();
  const doc = SwaggerModule.createDocument(app, config);
  const contract = openApiPaths();
  doc.paths = Object.fromEntries(
    Object.entries(doc.paths)
      .filter(([p]) => p.startsWith(MANAGEMENT_PREFIX))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([p, item]) => {
        const ops: Record<string, unknown> = { ...item };
        for (const [method, parts] of Object.entries(contract[p] ?? {})) {
          const op = ops[method] as Record<string, unknown> | undefined;
          // Swagger's guess of the status, body and query is replaced by the contract's; path
          // parameters stay as swagger found them on the controllers.
          if (op) {
            const pathParameters = ((op['parameters'] as Array<{ in?: string }> | undefined) ?? []).filter((x) => x.in !== 'query');
            ops[method] = { ...op, ...parts, parameters: [...pathParameters, ...(parts.parameters ?? [])] };
          }
        }
        return [p, ops];
      }),
  );
  doc.components = { ...doc.components, schemas: { ...doc.components?.schemas, ...openApiComponents().schemas } };
  return doc;
}

/** Serve the document at /api/docs (UI) and /api/docs-json. */
export function serveApiDocs(app: INestApplication): void {
  SwaggerModule.setup('api/docs', app, () => managementDocument(app), { jsonDocumentUrl: 'api/docs-json' });
}
