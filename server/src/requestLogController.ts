import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'

/** Query parameters whose values may be secrets or personal data (some seed APIs take credentials there). */
const HIDDEN_PARAMETERS = new Set([
  'password',
  'password1',
  'password2',
  'email',
  'username',
  'api_key',
  'token',
])

/** A URL as request logs show it: the values of `HIDDEN_PARAMETERS` replaced by `[hidden]`. */
export function loggableUrl(url: string): string {
  const queryAt = url.indexOf('?')
  if (queryAt < 0) return url
  const parameters = url
    .slice(queryAt + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=')
      const name = equals < 0 ? pair : pair.slice(0, equals)
      let decoded = name
      try {
        decoded = decodeURIComponent(name.replaceAll('+', ' '))
      } catch {
        // A malformed escape is no name of ours: the pair is logged as it came.
      }
      return equals >= 0 && HIDDEN_PARAMETERS.has(decoded.toLowerCase()) ? `${name}=[hidden]` : pair
    })
  return `${url.slice(0, queryAt)}?${parameters.join('&')}`
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
