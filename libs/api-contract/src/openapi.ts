// The OpenAPI operations of the route table: request bodies and answers as JSON Schema (zod 4's own
// output, OpenAPI 3.0 dialect), errors as the OCI envelope. The server merges these into the
// document @nestjs/swagger builds from the controllers, so no shape is written twice.
import { z } from 'zod';
import { ErrorEnvelopeSchema } from './common';
import { apiRoutes, type ApiRoute } from './routes';

type JsonSchema = Record<string, unknown>;

export interface OpenApiParameter {
  name: string;
  in: 'query';
  required: boolean;
  schema: JsonSchema;
  description?: string;
}

export interface OpenApiOperationParts {
  summary: string;
  /** The query parameters (path parameters are the controllers', found by @nestjs/swagger). */
  parameters?: OpenApiParameter[];
  requestBody?: { required: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: JsonSchema }> }>;
}

export const ERROR_ENVELOPE_REF = '#/components/schemas/ErrorEnvelope';

/**
 * A schema as JSON Schema: requests as clients may send them (`io: 'input'`: defaults optional,
 * transforms by what they accept), answers as the server sends them.
 */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  return z.toJSONSchema(schema, { io, target: 'openapi-3.0', unrepresentable: 'any' }) as JsonSchema;
}

export function openApiOperation(route: ApiRoute): OpenApiOperationParts {
  const op: OpenApiOperationParts = { summary: route.summary, responses: {} };
  if (route.query) {
    op.parameters = Object.entries(route.query.shape).map(([name, field]) => {
      const schema = jsonSchemaOf(field as z.ZodType, 'input');
      const parameter: OpenApiParameter = { name, in: 'query', required: !(field as z.ZodType).safeParse(undefined).success, schema };
      if (typeof schema['description'] === 'string') parameter.description = schema['description'];
      return parameter;
    });
  }
  if (route.body) op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchemaOf(route.body, 'input') } } };
  else if (route.upload) op.requestBody = { required: true, content: { [route.upload]: { schema: { type: 'string', format: 'binary' } } } };
  const success = route.response
    ? { description: 'OK', content: { 'application/json': { schema: jsonSchemaOf(route.response, 'output') } } }
    : route.produces
      ? { description: 'OK', content: { [route.produces]: { schema: { type: 'string', format: 'binary' } } } }
      : { description: 'No content' };
  op.responses[String(route.status)] = success;
  if (route.alsoStatus) op.responses[String(route.alsoStatus)] = success;
  op.responses['default'] = {
    description: 'An error (OCI error envelope)',
    content: { 'application/json': { schema: { $ref: ERROR_ENVELOPE_REF } } },
  };
  return op;
}

/** Every route's operation, by path and lower-case method, as OpenAPI's `paths` holds them. */
export function openApiPaths(): Record<string, Record<string, OpenApiOperationParts>> {
  const paths: Record<string, Record<string, OpenApiOperationParts>> = {};
  for (const route of Object.values(apiRoutes) as ApiRoute[])
    (paths[route.path] ??= {})[route.method.toLowerCase()] = openApiOperation(route);
  return paths;
}

export const openApiComponents = (): { schemas: Record<string, JsonSchema> } => ({
  schemas: { ErrorEnvelope: jsonSchemaOf(ErrorEnvelopeSchema, 'output') },
});
