import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { type FieldIssue, HourglassError } from '@hourglass/schemas'
import type { FastifyError, FastifyInstance } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import secureJson from 'secure-json-parse'

/** Deepest JSON nesting a request body may have. */
export const MAX_JSON_DEPTH = 32

/** Fastify's own client errors, by their stable codes, as Hourglass codes. */
const FASTIFY_CLIENT_ERRORS: Record<string, { code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: 'BODY_TOO_LARGE',
    message: 'the request body is larger than this endpoint accepts',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'send the body as application/json',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: 'EMPTY_BODY',
    message: 'the request body is empty; send a JSON document',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'INVALID_CONTENT_LENGTH',
    message: 'the Content-Length header is wrong',
  },
}

/** The deepest nesting of arrays and objects in a JSON text, stopping early past `limit`. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 34 /* " */) {
      // Jump to the closing quote: strings are most of a body and cannot change the depth.
      for (;;) {
        const end = text.indexOf('"', i + 1)
        if (end < 0) return false
        let backslashes = 0
        while (text.charCodeAt(end - 1 - backslashes) === 92 /* \ */) backslashes++
        i = end
        if (backslashes % 2 === 0) break
      }
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > limit) return true
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--
  }
  return false
}

/**
 * JSON bodies: too-deep nesting and prototype-poisoning keys (`__proto__`, `constructor.prototype`)
 * are refused before the body reaches any handler.
 */
export function registerJsonParser(app: FastifyInstance) {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    if (text.trim() === '')
      return done(new HourglassError('EMPTY_BODY', 400, 'the request body is empty; send a JSON document'))
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      return done(
        new HourglassError(
          'NESTING_TOO_DEEP',
          400,
          `JSON nesting deeper than ${MAX_JSON_DEPTH} levels is refused`,
        ),
      )
    }
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (error) {
      return done(
        new HourglassError('MALFORMED_JSON', 400, `the body is not valid JSON: ${(error as Error).message}`),
      )
    }
    try {
      // Only a body that spells one of the keys can hold it: most are spared the walk.
      if (
        typeof value === 'object' &&
        value !== null &&
        (text.includes('__proto__') || text.includes('constructor') || text.includes('\\u'))
      ) {
        secureJson.scan(value, { protoAction: 'error', constructorAction: 'error' })
      }
    } catch {
      return done(
        new HourglassError(
          'FORBIDDEN_KEY',
          400,
          'keys named "__proto__" or "constructor.prototype" are refused',
        ),
      )
    }
    done(null, value)
  })
}

const UNKNOWN_KEY = {
  querystring: 'is not a parameter of this route: it was refused rather than ignored',
  body: 'is not a field of this request: it was refused rather than ignored',
} as Record<string, string>

const validationIssues = (error: FastifyError): FieldIssue[] => {
  const where = error.validationContext ?? 'body'
  return (error.validation ?? []).flatMap((v) => {
    const path = (v.instancePath ?? '')
      .split('/')
      .filter(Boolean)
      .reduce((out, key) => (/^\d+$/.test(key) ? `${out}[${key}]` : out ? `${out}.${key}` : key), '')
    const at = (inner: string) => (where === 'body' ? inner : inner ? `${where}.${inner}` : where)
    // A strict schema's unknown keys: one issue per key, at its own path, naming it.
    const keys = (v.params as { keys?: unknown } | undefined)?.keys
    if (v.keyword === 'unrecognized_keys' && Array.isArray(keys) && keys.length > 0) {
      return keys.map((key) => ({
        path: at(path ? `${path}.${String(key)}` : String(key)),
        message: UNKNOWN_KEY[where] ?? 'is not known here',
      }))
    }
    return [{ path: at(path), message: v.message ?? 'is invalid' }]
  })
}

/** One error handler: Hourglass errors keep their code; client mistakes are 4xx; the rest is logged. */
export function registerErrorHandler(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof HourglassError) {
      const { issues, retryAfterSeconds, ...rest } = error.details
      if (error.statusCode >= 500) request.log.error({ err: error }, 'request failed')
      if (typeof retryAfterSeconds === 'number') reply.header('retry-after', String(retryAfterSeconds))
      return reply
        .code(error.statusCode)
        .send({ error: { code: error.code, message: error.message, ...(issues ? { issues } : {}) }, ...rest })
    }
    if (hasZodFastifySchemaValidationErrors(error) || error.validation) {
      const issues = validationIssues(error)
      const message = issues.map((i) => `${i.path}: ${i.message}`).join('; ')
      return reply.code(400).send({ error: { code: 'INVALID_REQUEST', message, issues } })
    }
    const known = error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined
    if (known) return reply.code(error.statusCode ?? 400).send({ error: known })
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ error: { code: 'BAD_REQUEST', message: error.message } })
    }
    if ((error as { retryable?: unknown }).retryable === true) {
      request.log.warn({ err: error }, 'request failed on a retryable error')
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({
          error: {
            code: 'UNAVAILABLE',
            message: 'Hourglass cannot take this request right now; retry shortly',
          },
        })
    }
    request.log.error({ err: error }, 'request failed')
    return reply
      .code(500)
      .send({ error: { code: 'INTERNAL', message: 'an internal error occurred; it has been logged' } })
  })
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: { code: 'NOT_FOUND', message: `no route for ${request.method} ${request.url.split('?')[0]}` },
    }),
  )
}

/** Errors of a connection before any request is routed, by Node's codes, as Hourglass answers. */
const CONNECTION_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'REQUEST_TIMEOUT',
    message: 'the request did not arrive in time; the connection is closed',
  },
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'HEADERS_TOO_LARGE',
    message: 'the request headers are too large',
  },
}

/**
 * Answers a connection whose request never arrived whole (too slow, too large headers, not
 * HTTP) in the standard error shape, then closes it (fastify's `clientErrorHandler`).
 */
export function answerConnectionError(error: Error & { code?: string }, socket: Socket) {
  // A connection reset has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const { status, code, message } = CONNECTION_ERRORS[error.code ?? ''] ?? {
    status: 400,
    code: 'MALFORMED_REQUEST',
    message: 'the request is not valid HTTP',
  }
  const body = JSON.stringify({ error: { code, message } })
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    )
  }
  socket.destroy(error)
}
