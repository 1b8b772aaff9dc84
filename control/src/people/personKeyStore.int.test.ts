import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createPersonKeyStore, type PersonKeyStore } from './personalData.ts'
import { describePersonKeyStoreContract } from './personKeyStoreContract.ts'

const root = mkdtempSync(join(tmpdir(), 'hourglass-keys-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const options = new WeakMap<PersonKeyStore, Parameters<typeof createPersonKeyStore>[0]>()
let n = 0

describePersonKeyStoreContract('embedded (LMDB)', {
  async create() {
    const given = {
      path: join(root, `keys-${n++}`),
      masterKey: randomBytes(32),
      indexKey: randomBytes(32),
    }
    const store = createPersonKeyStore(given)
    options.set(store, given)
    return store
  },
  async another(store) {
    const again = createPersonKeyStore(options.get(store)!)
    options.set(again, options.get(store)!)
    return again
  },
})
