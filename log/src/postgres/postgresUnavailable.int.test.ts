import { createServer } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { LogUnavailableError } from '../logErrors.ts'
import { createPostgresControlStore } from './postgresControlStore.ts'
import { scratchSchemas } from './testing/scratchSchemas.ts'
import { startTcpRelay } from './testing/tcpRelay.ts'

const schemas = scratchSchemas('unavailable')
afterAll(() => schemas.dropAll())

/** The test server's URL, reached through another loopback port. */
const throughPort = (port: number) => {
  const url = new URL(schemas.url)
  url.hostname = '127.0.0.1'
  url.port = String(port)
  return url.toString()
}

/** A loopback port nothing listens on. */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })

const change = (n: number) => ({ type: 'changed', data: { n } })

describe('PostgreSQL control store while PostgreSQL is unreachable', () => {
  it('given nothing listening where the server should be, when a store opens, then it is unavailable (retryable), not stuck', async () => {
    const opening = createPostgresControlStore(schemas.options({ url: throughPort(await closedPort()) }))

    await expect(opening).rejects.toBeInstanceOf(LogUnavailableError)
    await expect(opening).rejects.toMatchObject({ code: 'LOG_UNAVAILABLE', retryable: true })
  })

  it('given a working store, when the server becomes unreachable, then every operation is unavailable, and once it is back the same store works on', async () => {
    const server = new URL(schemas.url)
    const relay = await startTcpRelay({ host: server.hostname, port: Number(server.port || 5432) })
    const store = await createPostgresControlStore(schemas.options({ url: throughPort(relay.port) }))
    try {
      const first = await store.appendToStream('account-1', [change(1)], 'no-stream')
      expect(first).toMatchObject({ status: 'appended', revision: 0 })
      expect(await store.waitForAppend(0, { timeoutMs: 60_000 })).toBe(true)
      const waiting = store.waitForAppend(1, { timeoutMs: 60_000 })

      await relay.cut()

      // A follower waiting for records is not left waiting: it is told to read (and the read
      // says why it cannot), or told at once that the store is unavailable.
      expect(await waiting.catch((error) => error instanceof LogUnavailableError)).toBe(true)
      for (const operation of [
        store.appendToStream('account-1', [change(2)], 0),
        store.readAll(0, 10),
        store.readStream('account-1'),
        store.waitForAppend(1, { timeoutMs: 60_000 }),
      ]) {
        await expect(operation).rejects.toBeInstanceOf(LogUnavailableError)
      }

      await relay.restore()

      const second = await store.appendToStream('account-1', [change(2)], 0)
      expect(second).toMatchObject({ status: 'appended', revision: 1 })
      expect((await store.readAll(0, 10)).map((record) => record.data)).toEqual([
        change(1).data,
        change(2).data,
      ])
    } finally {
      await store.close()
      await relay.close()
    }
  })
})
