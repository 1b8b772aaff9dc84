import { createHash } from 'node:crypto'
import {
  AttributeName,
  AttrType,
  describeValueType,
  EventTime,
  errors,
  type FieldIssue,
  freeText,
  HourglassError,
  matchesAttrType,
  producerId,
  trimmedName,
} from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { credentialFrom } from '../apiTokens.ts'
import { DefinitionsBody } from '../apps/appAnalyticsWriteRoutes.ts'
import { appendSingleEvent } from '../apps/appendSingleEvent.ts'
import { authenticateSourceRequest, type IngestDeps } from '../ingestRoutes.ts'
import type { UserPrincipal, UserTokens } from '../userTokens.ts'

const tags = ['compat: metrica']

/**
 * Metrica answers 403 to a request without a valid user token ("пользователь не авторизован").
 * The token is Hourglass's account token, sent as `Authorization: Bearer <jwt_token>`.
 */
export const authenticateMetricaUser = async (
  userTokens: UserTokens,
  request: FastifyRequest,
): Promise<UserPrincipal> => {
  const token = credentialFrom(request.headers.authorization)
  if (!token)
    throw errors.forbidden(
      'the user is not signed in: send "Authorization: Bearer <jwt_token>" from /auth/signin',
    )
  try {
    return await userTokens.verify(token)
  } catch (error) {
    if (error instanceof HourglassError && error.code === 'UNAUTHENTICATED')
      throw errors.forbidden(error.message)
    throw error
  }
}

/**
 * A Metrica app is a source of kind `app` whose id, the app code, derives from its account and
 * name: two concurrent creations of one app append to one stream, and only one can win.
 */
export const metricaAppCode = (accountId: string, appName: string): string => {
  const hex = createHash('sha256').update(`metrica-app\u0000${accountId}\u0000${appName}`).digest('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

const JwtToken = z.object({ jwt_token: z.string() })
const AppToken = z.object({ api_token: z.string(), app_code: z.string() })
const AppCodeParams = z.object({ app_code: z.string().min(1).max(64) })

/** The seed's own example password is five characters; the native API asks for eight. */
const CompatPassword = z.string().min(5, { error: 'must be at least 5 characters' }).max(256)
const Email = z.email({ error: 'must be an e-mail address' }).max(254)

const AttrValueOfMessage = z.union([freeText(4096), z.number(), z.boolean()], {
  error: (issue) =>
    issue.input === undefined
      ? 'is required: an event carries its values'
      : 'must be a string, a number or a boolean',
})

const MessageAttr = z
  .strictObject({ name: AttributeName, type: AttrType, value: AttrValueOfMessage })
  .check((ctx) => {
    const { type, value } = ctx.value
    if (!matchesAttrType(type, value))
      ctx.issues.push({
        code: 'custom',
        path: ['value'],
        message: `must be ${type === 'integer' ? 'an integer' : `a ${type}`} as its type says, not ${describeValueType(value)}`,
        input: value,
      })
  })

/** The device service's message. `timestamp` and `id` (an idempotency key) are Hourglass additions. */
const Message = z
  .strictObject({
    user_code: producerId(200),
    event_name: producerId(200),
    attrs: z.array(MessageAttr).max(128, { error: 'must hold at most 128 attributes' }).default([]),
    timestamp: EventTime.optional(),
    id: producerId(128).optional(),
  })
  .check((ctx) => {
    const seen = new Set<string>()
    ctx.value.attrs.forEach((attr, index) => {
      if (seen.has(attr.name))
        ctx.issues.push({
          code: 'custom',
          path: ['attrs', index, 'name'],
          message: `"${attr.name}" appears twice`,
          input: attr.name,
        })
      seen.add(attr.name)
    })
  })

/**
 * Metrica (seed 000), write side: users, apps, event definitions and the device service's
 * messages. App codes are source ids; event codes are the tracking plan's.
 */
export const metricaCompatWrites: FastifyPluginAsync<IngestDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const { controlPlane, userTokens } = deps

  const ownedApp = async (request: FastifyRequest, appCode: string) => {
    const principal = await authenticateMetricaUser(userTokens, request)
    const source = await controlPlane.findOwned(principal.accountId, appCode)
    if (!source) throw errors.notFound(`the app "${appCode}"`)
    return source
  }

  app.post(
    '/auth/signup',
    {
      schema: {
        tags,
        summary: 'Register a user (an Hourglass account) and get a jwt_token',
        description:
          'The account is named "<name> <surname>". The phone is checked but not kept: Hourglass has no use for it.',
        body: z.strictObject({
          name: trimmedName(100),
          surname: trimmedName(100),
          email: Email,
          password: CompatPassword,
          phone: z.union([z.string().regex(/^\+?[\d\s()-]{3,30}$/), z.number().int().nonnegative()], {
            error: 'must be a phone number',
          }),
        }),
        response: { 200: JwtToken },
      },
    },
    async (request) => {
      const { name, surname, email, password } = request.body
      const account = await controlPlane.registerAccount({ email, password, name: `${name} ${surname}` })
      request.log.info({ accountId: account.accountId }, 'account registered (metrica)')
      return { jwt_token: await userTokens.issue(account) }
    },
  )

  app.post(
    '/auth/signin',
    {
      schema: {
        tags,
        summary: 'Sign in and get a jwt_token',
        body: z.strictObject({ email: Email, password: z.string().min(1).max(256) }),
        response: { 200: JwtToken },
      },
    },
    async (request) => {
      const account = await controlPlane.checkPassword(request.body.email, request.body.password)
      if (!account) throw errors.unauthenticated('the e-mail address or the password is wrong')
      return { jwt_token: await userTokens.issue(account) }
    },
  )

  app.get(
    '/auth/refresh',
    { schema: { tags, summary: 'Exchange a valid jwt_token for a fresh one', response: { 200: JwtToken } } },
    async (request) => {
      const principal = await authenticateMetricaUser(userTokens, request)
      if (!(await controlPlane.findAccount(principal.accountId)))
        throw errors.forbidden('the account does not exist')
      return { jwt_token: await userTokens.issue(principal) }
    },
  )

  app.get(
    '/auth/:app_code',
    {
      schema: {
        tags,
        summary: "Get an API token for one of the user's apps",
        description:
          'API tokens are stored hashed and shown once, so each call issues a NEW token; earlier ones stay valid.',
        params: AppCodeParams,
        response: { 200: AppToken },
      },
    },
    async (request) => {
      const source = await ownedApp(request, request.params.app_code)
      const apiToken = await controlPlane.apps.issueApiToken(source)
      request.log.info({ sourceId: source.sourceId }, 'source API token issued (metrica)')
      return { api_token: apiToken, app_code: source.sourceId }
    },
  )

  app.post(
    '/app/create',
    {
      schema: {
        tags,
        summary: 'Create an app and get its API token and app code',
        description: '403 without a valid jwt_token; 400 when this user already has an app of that name.',
        body: z.strictObject({ app_name: trimmedName(200) }),
        response: { 200: AppToken },
      },
    },
    async (request) => {
      const principal = await authenticateMetricaUser(userTokens, request)
      const name = request.body.app_name
      const taken = () =>
        new HourglassError('APP_EXISTS', 400, `this user already has an app named "${name}"`)
      const owned = await controlPlane.listOwned(principal.accountId)
      if (owned.some((source) => source.kind === 'app' && source.name === name)) throw taken()
      const created = await controlPlane.apps.claimSource(principal.accountId, {
        sourceId: metricaAppCode(principal.accountId, name),
        kind: 'app',
        name,
      })
      if (!created) throw taken()
      request.log.info({ sourceId: created.source.sourceId }, 'app created (metrica)')
      return { api_token: created.apiToken, app_code: created.source.sourceId }
    },
  )

  app.post(
    '/app/create_event/:app_code',
    {
      schema: {
        tags,
        summary: "Define events of an app (its tracking plan) and get the event's code",
        description: [
          '`event_code` is the code of the first event of the request; `events` lists the code of each.',
          'Attribute types: string, integer, number, boolean. A name defined already with the same attributes',
          'keeps its code; with other attributes it is a 409.',
        ].join(' '),
        params: AppCodeParams,
        body: z.strictObject({ events: DefinitionsBody }),
        response: {
          200: z.object({
            event_code: z.string(),
            app_code: z.string(),
            events: z.array(z.object({ name: z.string(), event_code: z.string() })),
          }),
        },
      },
    },
    async (request) => {
      const source = await ownedApp(request, request.params.app_code)
      const definitions = await controlPlane.apps.defineEvents(source, request.body.events)
      return {
        event_code: definitions[0]!.eventCode,
        app_code: source.sourceId,
        events: definitions.map((d) => ({ name: d.name, event_code: d.eventCode })),
      }
    },
  )

  app.post(
    '/:app_code',
    {
      schema: {
        tags,
        summary: "Send one event from a device (with the app's API token)",
        description: [
          'The message: `user_code`, `event_name`, `attrs` ([{name, type, value}]); optional `timestamp`',
          '(ISO-8601 with zone or epoch ms; default: now) and `id` (an idempotency key). Answers 200 once the',
          'event is durable in the log (in distributed mode, on the Kafka topic analytics-data.raw). An event of',
          'a defined name must carry exactly its attributes, each of its type.',
        ].join(' '),
        params: AppCodeParams,
        body: Message,
        response: {
          200: z.object({ status: z.enum(['accepted', 'duplicate']), id: z.string(), position: z.number() }),
        },
      },
    },
    async (request) => {
      const source = await authenticateSourceRequest(controlPlane, request)
      if (source.sourceId !== request.params.app_code)
        throw errors.forbidden(`this API token belongs to another app than "${request.params.app_code}"`)
      const message = request.body
      const issues: FieldIssue[] = []
      const rules = await controlPlane.apps.ingestRules(source, [{ name: message.event_name }])
      const definition = rules.definition(message.event_name)
      message.attrs.forEach((attr, index) => {
        const defined = definition?.attrs.find((d) => d.name === attr.name)
        if (defined && defined.type !== attr.type)
          issues.push({
            path: `attrs[${index}].type`,
            message: `is ${attr.type}, but "${message.event_name}" defines "${attr.name}" as ${defined.type}`,
          })
      })
      if (issues.length === 0) {
        const input = {
          ...(message.id === undefined ? {} : { id: message.id }),
          name: message.event_name,
          subject: message.user_code,
          timestamp: message.timestamp ?? Date.now(),
          attrs: Object.fromEntries(message.attrs.map((attr) => [attr.name, attr.value])),
        }
        const result = await appendSingleEvent(deps, source, input)
        if (result.status !== 'rejected') {
          return {
            status: result.status === 'appended' ? ('accepted' as const) : ('duplicate' as const),
            id: result.event.id,
            position: result.position,
          }
        }
        issues.push(...result.issues.map((issue) => toMessagePath(issue, message.attrs)))
      }
      throw new HourglassError(
        'EVENT_REJECTED',
        400,
        `the event was not appended: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`,
        { issues },
      )
    },
  )
}

/** An issue about the event as Hourglass holds it, told in the message's own terms. */
const toMessagePath = (issue: FieldIssue, attrs: readonly { name: string }[]): FieldIssue => {
  if (issue.path.startsWith('attrs.')) {
    const name = issue.path.slice('attrs.'.length)
    const index = attrs.findIndex((attr) => attr.name === name)
    return { path: index >= 0 ? `attrs[${index}]` : 'attrs', message: `"${name}" ${issue.message}` }
  }
  const renamed: Record<string, string> = { name: 'event_name', subject: 'user_code' }
  return { path: renamed[issue.path] ?? issue.path, message: issue.message }
}
