import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'

/** Query parameters whose values may be secrets or personal data (some seed APIs take credentials there). */
const HIDDEN_PARAMETERS = new Set([
  'password',
  'password1',
  'password2',
  'email',
  'user_email',
  'username',
  'login',
  'first_name',
  'last_name',
  'surname',
  'phone',
  'api_key',
  'token',
])

/** Path segments that name a person: the one after these (a member's username) is hidden. */
const PERSON_NAMING_SEGMENTS = new Set(['analysts'])

const HIDDEN = '[hidden]'

/** The text of a URL part, or the part itself when its escapes are malformed (no name of ours). */
function decoded(part: string): string {
  try {
    return decodeURIComponent(part.replaceAll('+', ' '))
  } catch {
    return part
  }
}

/** A path with e-mail addresses (seed 001 names people by theirs) and usernames hidden. */
function loggablePath(path: string): string {
  const segments = path.split('/')
  return segments
    .map((segment, at) =>
      decoded(segment).includes('@') || PERSON_NAMING_SEGMENTS.has(segments[at - 1] ?? '') ? HIDDEN : segment,
    )
    .join('/')
}

function loggableParameter(pair: string): string {
  const equals = pair.indexOf('=')
  const name = equals < 0 ? pair : pair.slice(0, equals)
  if (equals >= 0 && HIDDEN_PARAMETERS.has(decoded(name).toLowerCase())) return `${name}=${HIDDEN}`
  return decoded(pair).includes('@') ? `${name}=${HIDDEN}` : pair
}

/**
 * A URL as request logs show it: the values of `HIDDEN_PARAMETERS`, any value or path segment
 * holding an e-mail address, and usernames in paths replaced by `[hidden]`.
 */
export function loggableUrl(url: string): string {
  const queryAt = url.indexOf('?')
  if (queryAt < 0) return loggablePath(url)
  const parameters = url
    .slice(queryAt + 1)
    .split('&')
    .map(loggableParameter)
  return `${loggablePath(url.slice(0, queryAt))}?${parameters.join('&')}`
}

/** Fastify's request log lines, with the URL's secret and personal query values hidden. */
export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest, _reply: FastifyReply) {
    if (this.isLogDisabled(request)) return
    const { method, host, ip, headers, socket } = request
    request.log.info(
      { req: { method, url: loggableUrl(request.url), host, ip, headers, socket } },
      'incoming request',
    )
  }
}
