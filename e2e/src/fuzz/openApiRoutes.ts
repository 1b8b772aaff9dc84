import { sample } from 'openapi-sampler'

type JsonSchema = Parameters<typeof sample>[0]

/** One route of the OpenAPI document Hourglass serves, as the fuzzer drives it. */
export interface FuzzRoute {
  /** `POST /v1/sources/{id}/sessions`: the method and the path as the document spells them. */
  readonly key: string
  readonly method: string
  readonly template: string
  readonly pathParams: readonly string[]
  readonly queryParams: readonly { readonly name: string; readonly required: boolean }[]
  /** A request body built from the route's JSON schema (null: the route takes none). */
  readonly sampleBody: unknown
  /** A value of each path parameter built from its schema. */
  readonly sampleParams: Readonly<Record<string, string>>
}

interface OpenApiParameter {
  readonly in: string
  readonly name: string
  readonly required?: boolean
  readonly schema?: JsonSchema
}

interface OpenApiOperation {
  readonly parameters?: readonly OpenApiParameter[]
  readonly requestBody?: { readonly content?: Record<string, { readonly schema?: JsonSchema }> }
}

export interface OpenApiDocument {
  readonly paths: Record<string, Record<string, OpenApiOperation>>
}

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete'])

/** Every route the document lists, with sample values from its schemas (examples, defaults, formats). */
export function routesOf(document: OpenApiDocument): FuzzRoute[] {
  const routes: FuzzRoute[] = []
  for (const [template, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (!METHODS.has(method)) continue
      const parameters = operation.parameters ?? []
      const bodySchema = operation.requestBody?.content?.['application/json']?.schema
      const pathParams = parameters.filter((p) => p.in === 'path')
      routes.push({
        key: `${method.toUpperCase()} ${template}`,
        method: method.toUpperCase(),
        template,
        pathParams: pathParams.map((p) => p.name),
        queryParams: parameters
          .filter((p) => p.in === 'query')
          .map((p) => ({ name: p.name, required: p.required === true })),
        sampleBody: bodySchema ? sample(bodySchema, { skipReadOnly: true, quiet: true }, document) : null,
        sampleParams: Object.fromEntries(
          pathParams.map((p) => [
            p.name,
            String(p.schema ? sample(p.schema, { quiet: true }, document) : 'x'),
          ]),
        ),
      })
    }
  }
  return routes
}
