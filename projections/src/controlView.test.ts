import type { ControlRecord } from '@hourglass/log'
import { describe, expect, it } from 'vitest'
import { type ControlRecordSource, createControlView } from './controlView.ts'

/** Control records as the control service's log holds them: positions with no gaps. */
const controlLog = () => {
  const records: ControlRecord[] = []
  let reads = 0
  const source: ControlRecordSource = {
    async readAll(from, limit) {
      reads++
      return records.filter((r) => r.position >= from).slice(0, limit)
    },
  }
  const append = (type: string, data: object) =>
    records.push({
      position: records.length,
      stream: `stream-${records.length}`,
      revision: 0,
      id: `id-${records.length}`,
      type,
      data,
      recordedAt: Date.now(),
    })
  return { source, append, reads: () => reads }
}

const defined = (sourceId: string, name: string, attrs: { name: string; type: string }[]) => ({
  sourceId,
  accountId: 'acct',
  eventCode: `${name}-code`,
  name,
  attrs,
  at: 1,
})

describe('the control view of a projection worker', () => {
  it('gives the definitions below a cut, first definition of a name standing', async () => {
    // Given an account created, then two definitions, then the same name defined again.
    const log = controlLog()
    log.append('account.registered', { accountId: 'acct' })
    log.append(
      'event.defined',
      defined('app-1', 'purchase', [
        { name: 'product', type: 'string' },
        { name: 'quantity', type: 'integer' },
      ]),
    )
    log.append('event.defined', defined('app-1', 'open', []))
    log.append('event.defined', defined('app-1', 'purchase', [{ name: 'other', type: 'string' }]))
    const view = createControlView(log.source)

    // When it reads the log. Then its head is past every record, and a cut selects definitions.
    expect(await view.refresh()).toBe(4)
    expect(view.definitionsBefore(1)('app-1', 'purchase')).toBeUndefined()
    expect(view.definitionsBefore(2)('app-1', 'purchase')).toMatchObject({
      keyAttr: 'product',
      amountAttr: 'quantity',
      position: 1,
    })
    expect(view.definitionsBefore(4)('app-1', 'purchase')).toMatchObject({ keyAttr: 'product', position: 1 })
    expect(view.definitionsBefore(3)('app-1', 'open')).toMatchObject({ keyAttr: '', amountAttr: '' })
    expect(view.definitionsBefore(4)('app-2', 'open')).toBeUndefined()
  })

  it('keeps erasures in control-log order and reads only what was appended since', async () => {
    const log = controlLog()
    log.append('person.events-erased', { personId: 'p1', storeId: 's', at: 1 })
    const view = createControlView(log.source)
    await view.refresh()
    log.append('person.erased', { personId: 'p2', storeId: 's', at: 2 })
    log.append('person.registered', { personId: 'p3' })
    const readsBefore = log.reads()
    expect(await view.refresh()).toBe(3)
    expect(log.reads() - readsBefore).toBe(1)
    expect(view.erasures()).toEqual([
      { position: 0, personId: 'p1', kind: 'events', before: 0 },
      { position: 1, personId: 'p2', kind: 'person', before: Number.MAX_SAFE_INTEGER },
    ])
    // Nothing new: one small read, the same head.
    expect(await view.refresh()).toBe(3)
  })

  it('refuses a record that is not a log record', async () => {
    const view = createControlView({ readAll: async () => [{ position: 'x' }] as unknown as ControlRecord[] })
    await expect(view.refresh()).rejects.toThrow()
  })
})
