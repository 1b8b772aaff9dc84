import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createCliLogger } from './cliLogger.ts'

/** A stream that collects what is written to it, a terminal or not. */
function capture(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY })
  const chunks: string[] = []
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()))
  return { stream, text: () => chunks.join('') }
}

describe('the logger of hourglass start', () => {
  it('writes one JSON object a line when stdout is not a terminal', async () => {
    const out = capture(false)
    createCliLogger({ level: 'info' }, out.stream).info(
      { url: 'http://127.0.0.1:8080' },
      'Hourglass is ready',
    )
    await new Promise((resolve) => setImmediate(resolve))
    const record = JSON.parse(out.text().trim())
    expect(record).toMatchObject({ level: 30, msg: 'Hourglass is ready', url: 'http://127.0.0.1:8080' })
  })

  it('writes readable lines on a terminal', async () => {
    const out = capture(true)
    createCliLogger({ level: 'info' }, out.stream).info(
      { url: 'http://127.0.0.1:8080' },
      'Hourglass is ready',
    )
    await new Promise((resolve) => setImmediate(resolve))
    const text = out.text()
    expect(text).toMatch(/INFO.*Hourglass is ready/)
    expect(text).toContain('url: "http://127.0.0.1:8080"')
    expect(text.trimStart().startsWith('{')).toBe(false)
  })
})
