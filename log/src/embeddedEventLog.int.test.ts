import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { describeEventLogContract } from './contract/eventLogContract.ts'
import { createEmbeddedEventLog } from './embeddedEventLog.ts'
import type { EventLog } from './eventLog.ts'

const root = mkdtempSync(join(tmpdir(), 'hourglass-log-'))
const paths = new WeakMap<EventLog, string>()
let n = 0
afterAll(() => rmSync(root, { recursive: true, force: true }))

describeEventLogContract('embedded (LMDB)', {
  async create() {
    const path = join(root, `log-${n++}`)
    const log = createEmbeddedEventLog({ path })
    paths.set(log, path)
    return log
  },
  async reopen(previous) {
    const path = paths.get(previous)!
    const log = createEmbeddedEventLog({ path })
    paths.set(log, path)
    return log
  },
})

describe('embedded event log', () => {
  it('shares one commit among appends that arrive together (group commit)', async () => {
    const log = createEmbeddedEventLog({ path: join(root, 'group-commit') })
    await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        log.appendEvents([{ stream: 's', id: `e${i}`, type: 't', data: { i } }]),
      ),
    )
    const { commits, head } = log.stats()
    expect(head).toBe(500)
    expect(commits).toBeLessThan(50)
    await log.close()
  })

  it('refuses appends after close with a retryable error', async () => {
    const log = createEmbeddedEventLog({ path: join(root, 'closed') })
    await log.close()
    await expect(log.appendEvents([{ stream: 's', id: 'a', type: 't', data: {} }])).rejects.toMatchObject({
      code: 'LOG_CLOSED',
      retryable: true,
    })
  })
})
