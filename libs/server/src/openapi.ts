// The management API's OpenAPI document (@nestjs/swagger): every /api/v1 route and nothing else
// (the /v2 registry API has its own spec; health, metrics and internal routes are not management).
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';

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
  doc.paths = Object.fromEntries(
    Object.entries(doc.paths)
      .filter(([p]) => p.startsWith(MANAGEMENT_PREFIX))
      .sort(([a], [b]) => a.localeCompare(b)),
  );
  return doc;
}

/** Serve the document at /api/docs (UI) and /api/docs-json. */
export function serveApiDocs(app: INestApplication): void {
  SwaggerModule.setup('api/docs', app, () => managementDocument(app), { jsonDocumentUrl: 'api/docs-json' });
}
