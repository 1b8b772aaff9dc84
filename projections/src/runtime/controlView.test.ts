import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEmbeddedLog } from '@hourglass/log'
import { afterAll, describe, expect, it } from 'vitest'
import { createControlView } from './controlView.ts'

const root = mkdtempSync(join(tmpdir(), 'hourglass-control-view-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

let logs = 0
/** A control store on the embedded log, counting the reads the view makes of it. */
const controlStore = () => {
  const { control } = createEmbeddedLog({ path: join(root, `log-${logs++}`) })
  let reads = 0
  const source = {
    readAll: (from: number, limit: number) => {
      reads++
      return control.readAll(from, limit)
    },
  }
  const append = async (type: string, data: object) => {
    const outcome = await control.appendToStream(
      `stream-${type}-${Math.random()}`,
      [{ type, data }],
      'no-stream',
    )
    if (outcome.status !== 'appended') throw new Error('not appended')
    return outcome.firstPosition
  }
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
  it('given definitions, then it keeps the first definition of a name, with its position', async () => {
    // Given an account created, then two definitions, then the same name defined again.
    const store = controlStore()
    await store.append('account.registered', { accountId: 'acct' })
    const purchase = await store.append(
      'event.defined',
      defined('app-1', 'purchase', [
        { name: 'product', type: 'string' },
        { name: 'quantity', type: 'integer' },
      ]),
    )
    await store.append('event.defined', defined('app-1', 'open', []))
    const last = await store.append(
      'event.defined',
      defined('app-1', 'purchase', [{ name: 'other', type: 'string' }]),
    )
    const view = createControlView(store.source)

    // When it reads the store. Then its head is past every record, and each name has its first definition.
    expect(await view.refresh()).toBe(last + 1)
    expect(view.definition('app-1', 'purchase')).toMatchObject({
      keyAttr: 'product',
      amountAttr: 'quantity',
      position: purchase,
    })
    expect(view.definition('app-1', 'open')).toMatchObject({ keyAttr: '', amountAttr: '' })
    expect(view.definition('app-2', 'open')).toBeUndefined()
  })

  it('keeps erasures in control order and reads only what was appended since', async () => {
    const store = controlStore()
    const first = await store.append('person.events-erased', { personId: 'p1', storeId: 's', at: 1 })
    const view = createControlView(store.source)
    await view.refresh()
    const second = await store.append('person.erased', { personId: 'p2', storeId: 's', at: 2 })
    const last = await store.append('person.registered', { personId: 'p3' })
    const readsBefore = store.reads()
    expect(await view.refresh()).toBe(last + 1)
    expect(store.reads() - readsBefore).toBe(1)
    expect(view.erasures()).toEqual([
      { position: first, personId: 'p1', kind: 'events', before: first },
      { position: second, personId: 'p2', kind: 'person', before: Number.MAX_SAFE_INTEGER },
    ])
    // Nothing new: one small read, the same head.
    expect(await view.refresh()).toBe(last + 1)
  })
})
