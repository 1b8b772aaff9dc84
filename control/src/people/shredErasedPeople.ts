import type { ControlRecord, ControlStore } from '@hourglass/log'
import { IdentityErased, PersonErased } from '@hourglass/schemas'
import type { PersonKeyStore } from './personalData.ts'

/**
 * The person a control-plane record erases (whose key goes), if it is an erasure of a whole
 * person: a store's person, or an account holder, member or device user.
 */
export const erasedPersonOf = (record: Pick<ControlRecord, 'type' | 'data'>): string | null => {
  const data = { ...(record.data as object), type: record.type }
  if (record.type === 'identity.erased') {
    const parsed = IdentityErased.safeParse(data)
    return parsed.success ? parsed.data.id : null
  }
  if (record.type !== 'person.erased') return null
  const parsed = PersonErased.safeParse(data)
  return parsed.success ? parsed.data.personId : null
}

/**
 * Destroys the key of every person the control-plane records erase. An erasure appends its
 * record first and destroys the key after; a crash between the two leaves a key that this
 * removes at the next start, before anything is served. Returns how many erasures it read.
 */
export async function shredErasedPeople(
  control: Pick<ControlStore, 'readAll'>,
  keys: Pick<PersonKeyStore, 'destroy'>,
): Promise<number> {
  let erasures = 0
  for (let next = 0; ; ) {
    const batch = await control.readAll(next, 1000)
    if (batch.length === 0) return erasures
    for (const record of batch) {
      const personId = erasedPersonOf(record)
      if (personId === null) continue
      await keys.destroy(personId)
      erasures++
    }
    next = batch[batch.length - 1]!.position + 1
  }
}
