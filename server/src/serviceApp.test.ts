import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { newRegistry, runService, serviceApp } from './serviceApp.ts'

describe('a running service', () => {
  it('listens, answers /healthz, and on close stops taking requests before closing what it holds, in order', async () => {
    const closed: string[] = []
    const held = (name: string, answering: () => Promise<boolean>) => ({
      async close() {
        closed.push(`${name}${(await answering()) ? ' while answering' : ''}`)
      },
    })
    const app = await serviceApp(
      pino({ level: 'silent' }),
      { HOURGLASS_LOG_REQUESTS: 'false' },
      { requestMs: 5_000, headersMs: 5_000, connectionMs: 0 },
      newRegistry('test'),
      async () => ({ held: 2 }),
    )
    const service = await runService(app, { HOST: '127.0.0.1', PORT: 0 }, [
      held('first', () => answers()),
      held('second', () => answers()),
    ])
    const answers = () =>
      fetch(`${service.url}/healthz`).then(
        (response) => response.ok,
        () => false,
      )
    expect(await (await fetch(`${service.url}/healthz`)).json()).toEqual({ status: 'ok', held: 2 })
    await service.close()
    expect(closed).toEqual(['first', 'second'])
  })
})
