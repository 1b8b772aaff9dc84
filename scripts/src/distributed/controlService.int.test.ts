import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHttpPersonKeyStore } from '@hourglass/ingest'
import { describePersonKeyStoreContract } from '@hourglass/ingest/contract'
import { createHttpControlLog } from '@hourglass/log'
import { peopleStreams } from '@hourglass/schemas'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadServiceConfig } from './serviceConfig.ts'
import { type RunningService, startControlService } from './services.ts'

/**
 * The control service of distributed mode, running in this process on a loopback port over a
 * temporary data folder: its control-plane streams, and its key store of personal data reached
 * through the HTTP adapter as ingest processes reach it.
 */

const dataDir = mkdtempSync(join(tmpdir(), 'hourglass-control-keys-'))
const token = randomBytes(32).toString('base64url')
let control: RunningService
beforeAll(async () => {
  control = await startControlService(
    loadServiceConfig('control', {
      PORT: '0',
      HOURGLASS_DATA_DIR: dataDir,
      HOURGLASS_CONTROL_TOKEN: token,
      HOURGLASS_MASTER_KEY: randomBytes(32).toString('base64url'),
      HOURGLASS_EMAIL_INDEX_KEY: randomBytes(32).toString('base64url'),
    }),
    pino({ level: 'silent' }),
  )
})
afterAll(async () => {
  await control?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

const client = () => createHttpPersonKeyStore({ url: control.url, token })

describePersonKeyStoreContract('the control service over HTTP', {
  create: async () => client(),
  another: async () => client(),
})

describe('the control service', () => {
  it('keeps streams whose names are longer than a default path parameter', async () => {
    const log = createHttpControlLog({ url: control.url, token })
    const stream = `device-user-${randomUUID()}-${'f'.repeat(64)}`
    const outcome = await log.appendToStream(stream, [{ type: 'test.long-name', data: {} }], 'no-stream')
    expect(outcome.status).toBe('appended')
    expect((await log.readStream(stream)).map((r) => r.type)).toEqual(['test.long-name'])
  })

  it("destroys a person's key as soon as their erasure is appended, before it answers", async () => {
    const keys = client()
    const personId = randomUUID()
    await keys.create(personId)
    const log = createHttpControlLog({ url: control.url, token })
    const storeId = randomUUID()
    const outcome = await log.appendToStream(
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
  })

  it('refuses a malformed person id with a 400 naming it', async () => {
    const response = await fetch(`${control.url}/control/person-keys/not-a-person`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(response.status).toBe(400)
    expect(JSON.stringify(await response.json())).toContain('personId')
  })
})
