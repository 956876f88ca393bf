import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { SCHEMAS } from './openapi-schemas';

export const DOCS_PATH = 'api/docs';

/**
 * The OpenAPI document of the running routes. Deterministic: nothing in it depends on
 * configuration, time or the environment, so `vellum openapi` output can be committed and diffed.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Vellum')
    .setDescription(
      'A transparency log for software signatures, speaking the Rekor v1 REST API. ' +
        'Errors are JSON {code, message}; missing entries on GET are 404 with an empty body.',
    )
    .setVersion('0.1.0')
    .setLicense('Apache-2.0', 'https://www.apache.org/licenses/LICENSE-2.0')
    // Declares the scheme that @ApiBearerAuth() routes (the monitor API) refer to.
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: undefined,
      description: 'monitor API token',
    })
    .build();
  const doc = SwaggerModule.createDocument(app, config, { operationIdFactory: (_c, method) => method });
  doc.components = { ...doc.components, schemas: { ...(doc.components?.schemas ?? {}), ...SCHEMAS } };
  return sortKeysDeep(doc) as OpenAPIObject;
}

/** Stable key order for the committed file (paths and schemas sorted; arrays kept as they are). */
function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeysDeep((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}
