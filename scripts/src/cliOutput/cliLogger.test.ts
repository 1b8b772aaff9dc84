import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createCliLogger } from './cliLogger.ts'

/** What `hourglass start` writes for its ready line to a stream that is a terminal or not. */
async function readyLine(isTTY: boolean): Promise<string> {
  const stream = Object.assign(new PassThrough(), { isTTY })
  const chunks: string[] = []
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()))
  createCliLogger({ level: 'info' }, stream).info({ url: 'http://127.0.0.1:8080' }, 'Hourglass is ready')
  await new Promise((resolve) => setImmediate(resolve))
  return chunks.join('')
}

describe('the logger of hourglass start', () => {
  it('writes one JSON object a line when stdout is not a terminal', async () => {
    const record = JSON.parse((await readyLine(false)).trim())
    expect(record).toMatchObject({ level: 30, msg: 'Hourglass is ready', url: 'http://127.0.0.1:8080' })
  })

  it('writes readable lines on a terminal', async () => {
    const text = await readyLine(true)
    expect(text).toMatch(/INFO.*Hourglass is ready/)
    expect(text).toContain('url: "http://127.0.0.1:8080"')
    expect(text.trimStart().startsWith('{')).toBe(false)
  })
})
