import { createHash } from 'node:crypto'
import {
  accountInBody,
  authenticateFirst,
  authenticateMetricaUser,
  authenticateSourceRequest,
  type ControlPlane,
  creationRoute,
  credentialsRoute,
  type EventDefinition,
  principalOf,
  type Source,
} from '@hourglass/control'
import {
  AttributeName,
  AttrType,
  attributeNamesOnce,
  describeValueType,
  EventTime,
  errors,
  eventCodeSlug,
  type FieldIssue,
  freeText,
  HourglassError,
  isAppCodeOf,
  matchesAttrType,
  metricaAppCode,
  producerId,
  sourceIdOfAppCode,
  trimmedName,
} from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { DefinitionsBody } from '../apps/appAnalyticsWriteRoutes.ts'
import { appendSingleEvent } from '../apps/appendSingleEvent.ts'
import type { IngestDeps } from '../ingestRoutes.ts'

const tags = ['compat: metrica']

/**
 * A Metrica app is a source of kind `app` whose id derives from its account and name: two
 * concurrent creations of one app append to one stream, and only one can win. Its app code is
 * a slug of the name, then that id (`metricaAppCode`).
 */
export const metricaAppSourceId = (accountId: string, appName: string): string => {
  const hex = createHash('sha256').update(`metrica-app\u0000${accountId}\u0000${appName}`).digest('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

const JwtToken = z.object({ jwt_token: z.string() })
const AppToken = z.object({ api_token: z.string(), app_code: z.string() })
const AppCodeParams = z.object({ app_code: z.string().min(1).max(128) })

/** The seed's own example password is five characters; the native API asks for eight. */
const CompatPassword = z.string().min(5, { error: 'must be at least 5 characters' }).max(256)
const Email = z.email({ error: 'must be an e-mail address' }).max(254)

const AttrValueOfMessage = z.union([freeText(4096), z.number(), z.boolean()], {
  error: 'must be a string, a number or a boolean',
})

/** An attribute of a message; the seed's own example sends none of its values (`value` is optional). */
const MessageAttr = z
  .strictObject({ name: AttributeName, type: AttrType, value: AttrValueOfMessage.optional() })
  .check((ctx) => {
    const { type, value } = ctx.value
    if (value !== undefined && !matchesAttrType(type, value))
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
  .check(attributeNamesOnce('appears twice'))

/**
 * Metrica (seed 000), write side: users, apps, event definitions and the device service's
 * messages. App codes are source ids; event codes are the tracking plan's.
 */
export const metricaCompatWrites: FastifyPluginAsync<IngestDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const { controlPlane, userTokens } = deps
  const user = authenticateFirst((request) => authenticateMetricaUser(userTokens, request))
  const producer = authenticateFirst((request) => authenticateSourceRequest(controlPlane, request))
  const byEmail = credentialsRoute(accountInBody('account', 'email'))

  const ownedApp = async (request: FastifyRequest, appCode: string) => {
    const principal = await user(request)
    const sourceId = sourceIdOfAppCode(appCode)
    const source = sourceId === null ? null : await controlPlane.findOwned(principal.accountId, sourceId)
    if (!source || !isAppCodeOf(appCode, source)) throw errors.notFound(`the app "${appCode}"`)
    return source
  }

  app.post(
    '/auth/signup',
    {
      config: byEmail,
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
      config: byEmail,
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
    {
      onRequest: user.onRequest,
      config: credentialsRoute(principalOf),
      schema: { tags, summary: 'Exchange a valid jwt_token for a fresh one', response: { 200: JwtToken } },
    },
    async (request) => {
      const principal = await user(request)
      if (!(await controlPlane.findAccount(principal.accountId)))
        throw errors.forbidden('the account does not exist')
      return { jwt_token: await userTokens.issue(principal) }
    },
  )

  app.get(
    '/auth/:app_code',
    {
      onRequest: user.onRequest,
      config: creationRoute,
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
      const { apiToken } = await controlPlane.apps.issueApiToken(source)
      request.log.info({ sourceId: source.sourceId }, 'source API token issued (metrica)')
      return { api_token: apiToken, app_code: metricaAppCode(source) }
    },
  )

  app.post(
    '/app/create',
    {
      onRequest: user.onRequest,
      config: creationRoute,
      schema: {
        tags,
        summary: 'Create an app and get its API token and app code',
        description: '403 without a valid jwt_token; 400 when this user already has an app of that name.',
        body: z.strictObject({ app_name: trimmedName(200) }),
        response: { 200: AppToken },
      },
    },
    async (request) => {
      const principal = await user(request)
      const name = request.body.app_name
      const taken = () => new HourglassError('APP_EXISTS', `this user already has an app named "${name}"`)
      const owned = await controlPlane.listOwned(principal.accountId)
      if (owned.some((source) => source.kind === 'app' && source.name === name)) throw taken()
      const created = await controlPlane.apps.claimSource(principal.accountId, {
        sourceId: metricaAppSourceId(principal.accountId, name),
        kind: 'app',
        name,
      })
      if (!created) throw taken()
      request.log.info({ sourceId: created.source.sourceId }, 'app created (metrica)')
      return { api_token: created.apiToken, app_code: metricaAppCode(created.source) }
    },
  )

  app.post(
    '/app/create_event/:app_code',
    {
      onRequest: user.onRequest,
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
        app_code: metricaAppCode(source),
        events: definitions.map((d) => ({ name: d.name, event_code: d.eventCode })),
      }
    },
  )

  app.post(
    '/:app_code',
    {
      onRequest: producer.onRequest,
      schema: {
        tags,
        summary: "Send one event from a device (with the app's API token)",
        description: [
          'The message: `user_code`, `event_name`, `attrs` ([{name, type, value}]); optional `timestamp`',
          '(ISO-8601 with zone or epoch ms; default: now) and `id` (an idempotency key). `event_name` is the name',
          'of an event defined with /app/create_event, or its underscored form as in its event code',
          '(`number_of_product_views` for "number of product views"); any other name is a 400 that lists the',
          "app's events. Each attribute must be one of the event's, of its type; an attribute without a `value`",
          "(as in the seed's example) contributes nothing, and the event still counts for the user. Answers 200",
          'once the event is durable in the log (in distributed mode, on the Kafka topic analytics-data.raw).',
        ].join(' '),
        params: AppCodeParams,
        body: Message,
        response: {
          200: z.object({ status: z.enum(['accepted', 'duplicate']), id: z.string(), position: z.number() }),
        },
      },
    },
    async (request) => {
      const source = await producer(request)
      if (!isAppCodeOf(request.params.app_code, source))
        throw errors.forbidden(`this API token belongs to another app than "${request.params.app_code}"`)
      const message = request.body
      const definition = await definitionNamed(controlPlane, source, message.event_name)
      if (!definition) throw rejected([await undefinedEventIssue(controlPlane, source, message.event_name)])
      const issues: FieldIssue[] = []
      message.attrs.forEach((attr, index) => {
        const defined = definition.attrs.find((d) => d.name === attr.name)
        if (!defined)
          issues.push({
            path: `attrs[${index}]`,
            message: `"${attr.name}" is not an attribute of "${definition.name}" (its attributes: ${definition.attrs.map((a) => a.name).join(', ') || 'none'})`,
          })
        else if (defined.type !== attr.type)
          issues.push({
            path: `attrs[${index}].type`,
            message: `is ${attr.type}, but "${definition.name}" defines "${attr.name}" as ${defined.type}`,
          })
      })
      if (issues.length > 0) throw rejected(issues)
      const valued = message.attrs.filter((attr) => attr.value !== undefined)
      const input = {
        ...(message.id === undefined ? {} : { id: message.id }),
        name: definition.name,
        subject: message.user_code,
        timestamp: message.timestamp ?? Date.now(),
        attrs: Object.fromEntries(valued.map((attr) => [attr.name, attr.value])),
      }
      // The event is checked against the attributes it carries values of: the others contribute nothing.
      const carried = new Set(valued.map((attr) => attr.name))
      const result = await appendSingleEvent(deps, source, input, {
        narrowDefinition: (d) => ({ ...d, attrs: d.attrs.filter((attr) => carried.has(attr.name)) }),
      })
      if (result.status === 'rejected')
        throw rejected(result.issues.map((issue) => toMessagePath(issue, message.attrs)))
      return {
        status: result.status === 'appended' ? ('accepted' as const) : ('duplicate' as const),
        id: result.event.id,
        position: result.position,
      }
    },
  )
}

const rejected = (issues: readonly FieldIssue[]) =>
  new HourglassError(
    'EVENT_REJECTED',
    `the event was not appended: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`,
    { issues },
  )

/**
 * The definition a device message names: the event of that name, or else the one whose name has
 * that underscored form (the seed's `number_of_product_views`), when exactly one does.
 */
async function definitionNamed(
  controlPlane: ControlPlane,
  source: Source,
  eventName: string,
): Promise<EventDefinition | undefined> {
  const rules = await controlPlane.apps.ingestRules(source, [{ name: eventName }])
  const exact = rules.definition(eventName)
  if (exact) return exact
  const slug = eventCodeSlug(eventName)
  const matches = (await controlPlane.apps.listDefinitions(source.sourceId)).filter(
    (definition) => eventCodeSlug(definition.name) === slug,
  )
  return matches.length === 1 ? matches[0] : undefined
}

/** Why a message's event name is refused, listing the app's events (the first 20). */
async function undefinedEventIssue(
  controlPlane: ControlPlane,
  source: Source,
  eventName: string,
): Promise<FieldIssue> {
  const defined = await controlPlane.apps.listDefinitions(source.sourceId)
  const slug = eventCodeSlug(eventName)
  if (defined.length === 0)
    return {
      path: 'event_name',
      message: `"${eventName}" is not an event of this app, which defines none yet: define it with /app/create_event/<app_code>`,
    }
  const ambiguous = defined.filter((d) => eventCodeSlug(d.name) === slug)
  const listed = (ambiguous.length > 1 ? ambiguous : defined).slice(0, 20)
  const names = listed.map((d) => `"${d.name}" (${eventCodeSlug(d.name)})`).join(', ')
  return {
    path: 'event_name',
    message:
      ambiguous.length > 1
        ? `"${eventName}" could name several events of this app: ${names}; send the exact name`
        : `"${eventName}" is not an event of this app; its events: ${names}${defined.length > listed.length ? `, and ${defined.length - listed.length} more` : ''}`,
  }
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
