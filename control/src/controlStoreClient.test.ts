import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHttpControlStore } from './controlStoreClient.ts'

/**
 * Answers that the control service never sends, as something between the two might: a proxy's
 * page, or a service of another version. The client's checks on every answer are what these test;
 * the contract suite runs the client against the real service.
 */
const answers = new Map<string, { type: string; body: string }>([
  ['/control/streams/account-1', { type: 'text/html', body: '<html><body>Bad gateway</body></html>' }],
  ['/control/streams/account-2', { type: 'application/json', body: '{"status":"appended","revision":0}' }],
  [
    '/control/records',
    { type: 'application/json', body: '[{"position":0,"stream":"account-1","type":"account.registered"}]' },
  ],
])

let server: Server
let url: string
beforeAll(async () => {
  server = createServer((request, response) => {
    const answer = answers.get((request.url ?? '').split('?')[0]!)
    response.writeHead(200, { 'content-type': answer?.type ?? 'application/json' })
    response.end(answer?.body ?? 'null')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

describe('the control store over HTTP', () => {
  const unavailable = { code: 'LOG_UNAVAILABLE', retryable: true }

  it('given an answer that is not JSON, when a stream is read, then it fails as unavailable', async () => {
    const store = createHttpControlStore({ url, token: 'secret' })
    await expect(store.readStream('account-1')).rejects.toMatchObject(unavailable)
  })

  it('given an append outcome without its first position, when a stream is appended to, then it fails as unavailable', async () => {
    const store = createHttpControlStore({ url, token: 'secret' })
    await expect(
      store.appendToStream('account-2', [{ type: 'account.registered', data: {} }], 'no-stream'),
    ).rejects.toMatchObject(unavailable)
  })

  it('given records that lack fields, when all records are read, then it fails as unavailable naming the field', async () => {
    const store = createHttpControlStore({ url, token: 'secret' })
    const read = store.readAll(0, 10)
    await expect(read).rejects.toMatchObject(unavailable)
    await expect(read).rejects.toThrow(/revision/)
  })
})
