import { isUtf8 } from 'node:buffer'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import {
  type ErrorCode,
  errorCatalogue,
  errors,
  type FieldIssue,
  findJsonFault,
  formatPath,
  HourglassError,
  type JsonRule,
  wellFormedJson,
} from '@hourglass/schemas'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import secureJson from 'secure-json-parse'

/** Deepest JSON nesting a request body may have. */
export const MAX_JSON_DEPTH = 32

/** Fastify's own client errors, by their stable codes, as Hourglass codes. */
const FASTIFY_CLIENT_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
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
  FST_ERR_BAD_URL: {
    code: 'MALFORMED_PATH',
    message: 'the path holds a percent-escape that does not decode to UTF-8',
  },
  FST_ERR_MAX_PARAM_LENGTH: {
    code: 'PATH_TOO_LONG',
    message: 'a part of the path is longer than this API accepts',
  },
}

/**
 * The answer to what the router refuses before any route runs (a path that does not decode, a
 * path parameter that is too long), in the same shape as every other error. Without it fastify
 * answers these in its own shape. For `createApiServer`'s `frameworkErrors`.
 */
export function answerFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  const known = (error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined) ?? {
    code: 'BAD_REQUEST',
    message: 'the request cannot be routed',
  }
  return answer(reply, known.code, known.message)
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

/** U+FFFD as UTF-8: a body that holds it cannot tell its own U+FFFD from an invalid byte's. */
const REPLACEMENT_CHARACTER_UTF8 = Buffer.from('\uFFFD')
const REPLACEMENT_CHARACTER_ESCAPE = /\\u[fF]{3}[dD]/

const replacementCharacter: JsonRule = {
  string: (value) => (value.includes('\uFFFD') ? 'is not valid UTF-8' : null),
  key: (key) => (key.includes('\uFFFD') ? 'is not valid UTF-8' : null),
  number: () => null,
}

/**
 * A body that is not valid UTF-8, refused. Where it can be told, the answer names the field
 * that holds the first invalid bytes: decoded leniently, they are the U+FFFD characters of a
 * body that holds none of its own.
 */
function notUtf8(bytes: Buffer): HourglassError {
  let issues: FieldIssue[] | undefined
  const text = bytes.toString('utf8')
  if (
    !bytes.includes(REPLACEMENT_CHARACTER_UTF8) &&
    !REPLACEMENT_CHARACTER_ESCAPE.test(text) &&
    !jsonDepthExceeds(text, MAX_JSON_DEPTH)
  ) {
    try {
      const fault = findJsonFault(JSON.parse(text), replacementCharacter)
      if (fault) issues = [{ path: formatPath(fault.path), message: fault.message }]
    } catch {
      // Invalid bytes outside any string: the body is refused without a field to name.
    }
  }
  const where = issues ? ` (first at ${issues[0]!.path || 'the top level'})` : ''
  return new HourglassError('MALFORMED_UTF8', `the body is not valid UTF-8${where}`, issues ? { issues } : {})
}

/**
 * JSON bodies: bytes that are not UTF-8, too-deep nesting, prototype-poisoning keys (`__proto__`,
 * `constructor.prototype`) and strings that are not well-formed Unicode are refused before the
 * body reaches any handler. The last check walks only bodies with `\u` escapes: valid UTF-8
 * cannot encode a lone surrogate, so an escape is the only way a JSON text can spell one.
 * (URLs cannot either: the router refuses a path that does not decode, and the query parser
 * keeps an escape it cannot decode as it is.) Each field's own class of text (names, free text)
 * is then its schema's check.
 */
export function registerJsonParser(app: FastifyInstance) {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    const bytes = body as Buffer
    if (!isUtf8(bytes)) return done(notUtf8(bytes))
    const text = bytes.toString('utf8')
    if (text.trim() === '')
      return done(new HourglassError('EMPTY_BODY', 'the request body is empty; send a JSON document'))
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      return done(
        new HourglassError(
          'NESTING_TOO_DEEP',
          `JSON nesting deeper than ${MAX_JSON_DEPTH} levels is refused`,
        ),
      )
    }
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (error) {
      return done(
        new HourglassError('MALFORMED_JSON', `the body is not valid JSON: ${(error as Error).message}`),
      )
    }
    const escaped = text.includes('\\u')
    try {
      // Only a body that spells one of the keys can hold it: most are spared the walk.
      if (
        typeof value === 'object' &&
        value !== null &&
        (escaped || text.includes('__proto__') || text.includes('constructor'))
      ) {
        secureJson.scan(value, { protoAction: 'error', constructorAction: 'error' })
      }
    } catch {
      return done(
        new HourglassError('FORBIDDEN_KEY', 'keys named "__proto__" or "constructor.prototype" are refused'),
      )
    }
    const fault = escaped ? findJsonFault(value, wellFormedJson) : null
    if (fault) return done(errors.invalidRequest([{ path: formatPath(fault.path), message: fault.message }]))
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

/** Answers with a code of the catalogue, at the status the catalogue gives it. */
const answer = (reply: FastifyReply, code: ErrorCode, message: string, extra: Record<string, unknown> = {}) =>
  reply.code(errorCatalogue[code].status).send({ error: { code, message, ...extra } })

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
      return answer(reply, 'INVALID_REQUEST', message, { issues })
    }
    const known = error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined
    if (known) return answer(reply, known.code, known.message)
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return answer(reply, 'BAD_REQUEST', error.message)
    }
    if ((error as { retryable?: unknown }).retryable === true) {
      request.log.warn({ err: error }, 'request failed on a retryable error')
      reply.header('retry-after', '1')
      return answer(reply, 'UNAVAILABLE', 'Hourglass cannot take this request right now; retry shortly')
    }
    request.log.error({ err: error }, 'request failed')
    return answer(reply, 'INTERNAL', 'an internal error occurred; it has been logged')
  })
  app.setNotFoundHandler((request, reply) =>
    answer(reply, 'NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`),
  )
}

/** Errors of a connection before any request is routed, by Node's codes, as Hourglass answers. */
const CONNECTION_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: {
    code: 'REQUEST_TIMEOUT',
    message: 'the request did not arrive in time; the connection is closed',
  },
  HPE_HEADER_OVERFLOW: {
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
  const { code, message } = CONNECTION_ERRORS[error.code ?? ''] ?? {
    code: 'MALFORMED_REQUEST',
    message: 'the request is not valid HTTP',
  }
  const { status } = errorCatalogue[code]
  const body = JSON.stringify({ error: { code, message } })
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    )
  }
  socket.destroy(error)
}
