import { errors } from '@hourglass/schemas'
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { type ControlServiceOptions, requestControlService } from '../controlStoreClient.ts'
import { PersonKeyExistsError, type PersonKeyStore } from './personalData.ts'

/**
 * The key store of distributed mode: one store in the control service (`personKeyRoutes`),
 * reached by every ingest and query process over its authenticated HTTP API. Nothing is
 * cached on the caller's side, so a key destroyed through one process is gone for all at once.
 */

const KeyBody = z.object({ key: z.base64url().length(43) })
const PersonParams = z.object({ personId: z.uuid({ error: 'must be a person id' }) })
const EmailIndexBody = z.object({ storeId: z.string().min(1).max(64), email: z.string().min(1).max(254) })
const EmailIndexAnswer = z.object({ index: z.string() })

/** The key store's routes, under the control service's /control/ prefix (which checks the control token). */
export const personKeyRoutes: FastifyPluginAsync<{ keys: PersonKeyStore }> = async (fastify, { keys }) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const hide = true
  app.post(
    '/control/person-keys/:personId',
    { schema: { hide, params: PersonParams, response: { 201: KeyBody } } },
    async (request, reply) => {
      try {
        const key = await keys.create(request.params.personId)
        return reply.code(201).send({ key: key.toString('base64url') })
      } catch (error) {
        if (error instanceof PersonKeyExistsError) throw errors.conflict(error.message)
        throw error
      }
    },
  )
  app.get(
    '/control/person-keys/:personId',
    { schema: { hide, params: PersonParams, response: { 200: KeyBody } } },
    async (request) => {
      const key = await keys.get(request.params.personId)
      if (!key) throw errors.notFound("the person's key")
      return { key: key.toString('base64url') }
    },
  )
  app.delete(
    '/control/person-keys/:personId',
    { schema: { hide, params: PersonParams } },
    async (request, reply) => {
      await keys.destroy(request.params.personId)
      return reply.code(204).send()
    },
  )
  app.post(
    '/control/email-index',
    { schema: { hide, body: EmailIndexBody, response: { 200: EmailIndexAnswer } } },
    async (request) => ({ index: await keys.emailIndex(request.body.storeId, request.body.email) }),
  )
}

/** The control service's key store, over HTTP. Its failures are 503s: retry later. */
export function createHttpPersonKeyStore(options: ControlServiceOptions): PersonKeyStore {
  const call = (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) =>
    requestControlService(options, method, path, body)
  const refused = async (response: Response) => {
    await response.body?.cancel()
    return errors.unavailable(`the key store of the control service answered ${response.status}; retry`)
  }
  const keyOf = async (response: Response) =>
    Buffer.from(KeyBody.parse(await response.json()).key, 'base64url')
  const person = (personId: string) => `/control/person-keys/${encodeURIComponent(personId)}`

  return {
    async create(personId) {
      const response = await call('POST', person(personId))
      if (response.status === 409) throw new PersonKeyExistsError()
      if (response.status !== 201) throw await refused(response)
      return keyOf(response)
    },
    async get(personId) {
      const response = await call('GET', person(personId))
      if (response.status === 404) return null
      if (!response.ok) throw await refused(response)
      return keyOf(response)
    },
    async destroy(personId) {
      const response = await call('DELETE', person(personId))
      if (!response.ok) throw await refused(response)
    },
    async emailIndex(storeId, email) {
      const response = await call('POST', '/control/email-index', { storeId, email })
      if (!response.ok) throw await refused(response)
      return EmailIndexAnswer.parse(await response.json()).index
    },
    close: async () => {},
  }
}
