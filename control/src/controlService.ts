import { timingSafeEqual } from 'node:crypto'
import { join, resolve } from 'node:path'
import { createEmbeddedLog } from '@hourglass/log'
import { listen, newRegistry, type RunningService, serviceApp } from '@hourglass/server'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import { Counter } from 'prom-client'
import { z } from 'zod'
import { controlWire } from './controlStoreClient.ts'
import { personKeyRoutes } from './people/httpPersonKeyStore.ts'
import { createPersonKeyStore } from './people/personalData.ts'
import { erasedPersonOf, shredErasedPeople } from './people/shredErasedPeople.ts'
import { makeDataFolderPrivate } from './privateDataFolder.ts'
import { httpTimeoutsOf } from './settings/admissionConfig.ts'
import type { ServiceConfig } from './settings/serviceConfig.ts'

/**
 * `hourglass control`: accounts, sources, tokens and definitions, in the control store of one
 * embedded log, for every other process; and the keys of personal data (per-person keys under
 * the master key, the e-mail index key), which every ingest process must share and an erasure
 * must destroy once, for all of them. The keys stay beside the control store: one process, one copy.
 */
export async function startControlService(
  config: ServiceConfig<'control'>,
  logger: Logger,
): Promise<RunningService> {
  const dataDir = resolve(config.HOURGLASS_DATA_DIR)
  makeDataFolderPrivate(dataDir)
  const log = createEmbeddedLog({ path: join(dataDir, 'control-log') })
  const control = log.control
  const keys = createPersonKeyStore({
    path: join(dataDir, 'keys'),
    masterKey: Buffer.from(config.HOURGLASS_MASTER_KEY, 'base64url'),
    indexKey: Buffer.from(config.HOURGLASS_EMAIL_INDEX_KEY, 'base64url'),
  })
  try {
    await shredErasedPeople(control, keys)
  } catch (error) {
    await keys.close()
    await log.close()
    throw error
  }
  const registry = newRegistry('control')
  const appends = new Counter({
    name: 'hourglass_control_appends_total',
    help: 'control-plane appends, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  })
  // Stream names are longer than fastify's default limit of a path parameter (a device user's
  // stream holds a source id and a hash), and percent-encoded in the path.
  // The log holds control records only: its head is the control store's.
  const app = await serviceApp(
    logger,
    config,
    httpTimeoutsOf(config),
    registry,
    async () => ({ head: await log.telemetry.head() }),
    {
      maxParamLength: 3 * controlWire.streamNameMax,
    },
  )
  const expected = Buffer.from(config.HOURGLASS_CONTROL_TOKEN)
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/control/')) return
    const given = Buffer.from((request.headers.authorization ?? '').replace(/^Bearer /, ''))
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return reply
        .code(401)
        .send({ error: { code: 'UNAUTHENTICATED', message: 'the control token is wrong' } })
    }
  })
  const routes = app.withTypeProvider<ZodTypeProvider>()
  const StreamParams = z.object({ stream: z.string().min(1).max(controlWire.streamNameMax) })
  const Records = z.array(controlWire.record)
  routes.post(
    '/control/streams/:stream',
    {
      schema: {
        params: StreamParams,
        body: z.object({
          records: z
            .array(z.object({ type: z.string().min(1), data: z.unknown() }))
            .max(controlWire.appendMax),
          expected: controlWire.expected,
        }),
        response: { 200: controlWire.appendOutcome },
      },
    },
    async (request) => {
      const outcome = await control.appendToStream(
        request.params.stream,
        request.body.records,
        request.body.expected,
      )
      appends.inc({ outcome: outcome.status })
      // An erasure destroys the person's key here, before anyone hears it was recorded: the
      // ingest process that asked may die before it destroys the key itself.
      if (outcome.status === 'appended') {
        for (const record of request.body.records) {
          const personId = erasedPersonOf(record)
          if (personId !== null) await keys.destroy(personId)
        }
      }
      return outcome
    },
  )
  await app.register(personKeyRoutes, { keys })
  routes.get(
    '/control/streams/:stream',
    {
      schema: {
        params: StreamParams,
        querystring: z.object({ from: z.coerce.number().int().min(0).default(0) }),
        response: { 200: Records },
      },
    },
    async (request) => control.readStream(request.params.stream, request.query.from),
  )
  routes.get(
    '/control/records',
    {
      schema: {
        querystring: z.object({
          from: z.coerce.number().int().min(0).default(0),
          limit: z.coerce.number().int().min(1).max(controlWire.pageMax).default(1000),
        }),
        response: { 200: Records },
      },
    },
    async (request) => control.readAll(request.query.from, request.query.limit),
  )
  const url = await listen(app, config)
  return {
    url,
    async close() {
      await app.close()
      await keys.close()
      await log.close()
    },
  }
}
