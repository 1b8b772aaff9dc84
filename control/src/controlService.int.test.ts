import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ControlStore } from '@hourglass/log'
import { describeControlStoreContract } from '@hourglass/log/contract'
import { peopleStreams } from '@hourglass/schemas'
import type { RunningService } from '@hourglass/server'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startControlService } from './controlService.ts'
import { createHttpControlStore } from './controlStoreClient.ts'
import { createHttpPersonKeyStore } from './people/httpPersonKeyStore.ts'
import { describePersonKeyStoreContract } from './people/personKeyStoreContract.ts'
import { loadServiceConfig } from './settings/serviceConfig.ts'

/**
 * The control service of distributed mode, running in this process on a loopback port over a
 * temporary data folder: its control-plane streams, and its key store of personal data reached
 * through the HTTP adapter as ingest processes reach it.
 */

const root = mkdtempSync(join(tmpdir(), 'hourglass-control-'))
const token = randomBytes(32).toString('base64url')
const masterKey = randomBytes(32).toString('base64url')
const emailIndexKey = randomBytes(32).toString('base64url')
const running = new Set<RunningService>()
let folders = 0

/** A control service over `dataDir`, on a free loopback port. */
const startOver = async (dataDir: string) => {
  const service = await startControlService(
    loadServiceConfig('control', {
      PORT: '0',
      HOURGLASS_DATA_DIR: dataDir,
      HOURGLASS_CONTROL_TOKEN: token,
      HOURGLASS_MASTER_KEY: masterKey,
      HOURGLASS_EMAIL_INDEX_KEY: emailIndexKey,
    }),
    pino({ level: 'silent' }),
  )
  running.add(service)
  return service
}

let control: RunningService
beforeAll(async () => {
  control = await startOver(join(root, `service-${folders++}`))
})
afterAll(async () => {
  for (const service of running) await service.close()
  rmSync(root, { recursive: true, force: true })
})

/** Which service, over which folder, each client of the contract talks to. */
const served = new WeakMap<ControlStore, { service: RunningService; dataDir: string }>()
const clientOf = (service: RunningService, dataDir: string) => {
  const store = createHttpControlStore({ url: service.url, token })
  served.set(store, { service, dataDir })
  return store
}

describeControlStoreContract('the control service over HTTP', {
  async create() {
    const dataDir = join(root, `service-${folders++}`)
    return clientOf(await startOver(dataDir), dataDir)
  },
  // The service restarts over the same folder, as after a crash of its process.
  async reopen(store) {
    const { service, dataDir } = served.get(store)!
    running.delete(service)
    await service.close()
    return clientOf(await startOver(dataDir), dataDir)
  },
})

const client = () => createHttpPersonKeyStore({ url: control.url, token })

describePersonKeyStoreContract('the control service over HTTP', {
  create: async () => client(),
  another: async () => client(),
})

describe('the control service', () => {
  it('keeps streams whose names are longer than a default path parameter', async () => {
    const store = createHttpControlStore({ url: control.url, token })
    const stream = `device-user-${randomUUID()}-${'f'.repeat(64)}`
    const outcome = await store.appendToStream(stream, [{ type: 'test.long-name', data: {} }], 'no-stream')
    expect(outcome.status).toBe('appended')
    expect((await store.readStream(stream)).map((r) => r.type)).toEqual(['test.long-name'])
  })

  it("destroys a person's key as soon as their erasure is appended, before it answers", async () => {
    const keys = client()
    const personId = randomUUID()
    await keys.create(personId)
    const store = createHttpControlStore({ url: control.url, token })
    const storeId = randomUUID()
    const outcome = await store.appendToStream(
      peopleStreams.storePeople(storeId),
      [{ type: 'person.erased', data: { personId, storeId, at: Date.now() } }],
      'any',
    )
    expect(outcome.status).toBe('appended')
    expect(await keys.get(personId)).toBeNull()
  })

  it('answers nobody without the control token', async () => {
    const wrong = createHttpPersonKeyStore({ url: control.url, token: randomBytes(32).toString('base64url') })
    await expect(wrong.get(randomUUID())).rejects.toMatchObject({ statusCode: 503, code: 'UNAVAILABLE' })
    const bare = await fetch(`${control.url}/control/person-keys/${randomUUID()}`)
    expect(bare.status).toBe(401)
    expect(await bare.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } })
  })

  it('refuses a malformed person id with a 400 naming it', async () => {
    const response = await fetch(`${control.url}/control/person-keys/not-a-person`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(response.status).toBe(400)
    expect(JSON.stringify(await response.json())).toContain('personId')
  })
})
