import { randomUUID } from 'node:crypto'
import type { ControlRecord, ControlStore } from '@hourglass/log'
import {
  errors,
  HourglassError,
  PeopleEvent,
  type PersonalFields,
  peopleStreams,
  SourceCreated,
} from '@hourglass/schemas'
import { followControl } from '../controlFollower.ts'
import { openPersonalFields, type PersonKeyStore, sealPersonalFields } from './personalData.ts'

export interface Store {
  readonly storeId: string
  readonly accountId: string
  readonly name: string
  /** A small number naming the store in APIs that expect an integer id: its creation's log position. */
  readonly number: number
  readonly isActive: boolean
}

export interface Person extends PersonalFields {
  readonly personId: string
  readonly storeId: string
}

interface PersonState {
  readonly personId: string
  readonly storeId: string
  readonly accountId: string
  emailIndex: string
  sealed: string
  erased: boolean
}

export interface StoreRegistry {
  start(): Promise<void>
  store(storeId: string): Promise<Store | null>
  storeByNumber(number: number): Promise<Store | null>
  storesOf(accountId: string): Promise<Store[]>
  setActive(storeId: string, isActive: boolean): Promise<Store>
  register(store: Store, fields: PersonalFields): Promise<Person>
  findByEmail(storeId: string, email: string): Promise<Person | null>
  person(storeId: string, personId: string): Promise<Person | null>
  update(storeId: string, personId: string, fields: PersonalFields): Promise<Person>
  /** Erases the person and all their events; returns the erasure's log position. */
  erase(storeId: string, personId: string): Promise<number>
  /** Erases the person's events recorded so far; returns the erasure's log position. */
  eraseEvents(storeId: string, personId: string): Promise<number>
}

/** Attempts at an append that other processes keep beating to the directory's next revision. */
const MAX_ATTEMPTS = 8
/** The longest pause before an attempt after a conflict; each pause is random up to a doubling bound. */
const MAX_PAUSE_MS = 200

const pause = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(MAX_PAUSE_MS, 5 * 2 ** attempt)))

/**
 * Runs `work` for a key after the work already queued for that key has settled: appends to one
 * stream from this process take their turn, so they never conflict with each other.
 */
function createTurns() {
  const last = new Map<string, Promise<unknown>>()
  return <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const mine = (last.get(key) ?? Promise.resolve()).then(work)
    const settled = mine.then(
      () => undefined,
      () => undefined,
    )
    last.set(key, settled)
    void settled.then(() => {
      if (last.get(key) === settled) last.delete(key)
    })
    return mine
  }
}

/**
 * Stores and the people they know. State is a fold of control-plane records; personal
 * fields stay sealed in it and are opened only to answer a request, with the person's key
 * from the key store (never cached here: an erasure in another process must count at once).
 */
export function createStoreRegistry(options: { control: ControlStore; keys: PersonKeyStore }): StoreRegistry {
  const { control, keys } = options
  const stores = new Map<
    string,
    { accountId: string; name: string; number: number; isActive: boolean; revision: number | null }
  >()
  const storeNumbers = new Map<number, string>()
  const people = new Map<string, PersonState>()
  const byEmail = new Map<string, string>()
  const directoryRevision = new Map<string, number>()

  const apply = (record: ControlRecord) => {
    if (record.type === 'source.created') {
      const created = SourceCreated.safeParse({ ...(record.data as object), type: record.type })
      if (created.success && created.data.kind === 'store') {
        const { sourceId, accountId, name } = created.data
        stores.set(sourceId, { accountId, name, number: record.position, isActive: true, revision: null })
        storeNumbers.set(record.position, sourceId)
      }
      return
    }
    const parsed = PeopleEvent.safeParse({ ...(record.data as object), type: record.type })
    if (!parsed.success) return
    const event = parsed.data
    if (event.type === 'store.status-changed') {
      const store = stores.get(event.storeId)
      if (store) Object.assign(store, { isActive: event.isActive, revision: record.revision })
      return
    }
    directoryRevision.set(record.stream, record.revision)
    switch (event.type) {
      case 'person.registered':
        people.set(event.personId, { ...event, erased: false })
        byEmail.set(event.emailIndex, event.personId)
        break
      case 'person.updated': {
        const person = people.get(event.personId)
        if (!person) break
        if (byEmail.get(person.emailIndex) === person.personId) byEmail.delete(person.emailIndex)
        Object.assign(person, { emailIndex: event.emailIndex, sealed: event.sealed })
        byEmail.set(event.emailIndex, event.personId)
        break
      }
      case 'person.erased': {
        const person = people.get(event.personId)
        if (!person) break
        person.erased = true
        if (byEmail.get(person.emailIndex) === person.personId) byEmail.delete(person.emailIndex)
        // A key that outlived its erasure (a crash between the two) goes with shredErasedPeople.
        break
      }
      case 'person.events-erased':
        break
    }
  }

  const { refresh, catchUp } = followControl(control, apply)

  const toStore = (storeId: string): Store | null => {
    const s = stores.get(storeId)
    return s
      ? { storeId, accountId: s.accountId, name: s.name, number: s.number, isActive: s.isActive }
      : null
  }

  const open = async (state: PersonState): Promise<Person | null> => {
    if (state.erased) return null
    const key = await keys.get(state.personId)
    if (!key) return null
    return {
      personId: state.personId,
      storeId: state.storeId,
      ...openPersonalFields(key, state.personId, state.sealed),
    }
  }

  /** The person as of now: an update or erasure made through another process counts at once. */
  const livePerson = async (storeId: string, personId: string) => {
    await catchUp()
    const state = people.get(personId)
    return state && !state.erased && state.storeId === storeId ? state : null
  }

  const inTurn = createTurns()

  /**
   * Appends to a store's people directory at the revision last seen, re-deciding on a conflict.
   * Appends from this process queue per directory, so a busy store is a queue rather than a
   * storm of conflicts; the expected revision still guards against other processes' appends.
   */
  const appendToDirectory = (storeId: string, decide: () => { type: string; data: object }) => {
    const stream = peopleStreams.storePeople(storeId)
    return inTurn(stream, async () => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        if (attempt > 0) await pause(attempt)
        // Everything appended so far, this process's own last append included.
        await catchUp()
        const { type, data } = decide()
        const outcome = await control.appendToStream(
          stream,
          [{ type, data }],
          directoryRevision.get(stream) ?? 'no-stream',
        )
        if (outcome.status === 'appended') {
          await refresh()
          return outcome.firstPosition
        }
      }
      throw new HourglassError(
        'DIRECTORY_BUSY',
        'other processes kept changing the people of this store at the same moment; retry',
      )
    })
  }

  const emailTaken = (emailIndex: string, except?: string) => {
    const owner = byEmail.get(emailIndex)
    return owner !== undefined && owner !== except
  }

  return {
    start: refresh,
    // As of now: a store switched off through another process is refused at once.
    async store(storeId) {
      await catchUp()
      return toStore(storeId)
    },
    async storeByNumber(number) {
      await catchUp()
      const storeId = storeNumbers.get(number)
      return storeId ? toStore(storeId) : null
    },
    async storesOf(accountId) {
      await catchUp()
      return [...stores.keys()]
        .map((id) => toStore(id)!)
        .filter((s) => s.accountId === accountId)
        .sort((a, b) => a.number - b.number)
    },
    async setActive(storeId, isActive) {
      const store = stores.get(storeId)
      if (!store) throw errors.notFound('the store')
      const outcome = await control.appendToStream(
        peopleStreams.storeStatus(storeId),
        [{ type: 'store.status-changed', data: { storeId, isActive, at: Date.now() } }],
        'any',
      )
      if (outcome.status !== 'appended') throw errors.unavailable('could not change the store; retry')
      await refresh()
      return toStore(storeId)!
    },
    async register(store, fields) {
      const personId = randomUUID()
      const emailIndex = await keys.emailIndex(store.storeId, fields.email)
      const key = await keys.create(personId)
      try {
        await appendToDirectory(store.storeId, () => {
          if (emailTaken(emailIndex)) {
            throw errors.conflict('this store already has a person with this e-mail address')
          }
          return {
            type: 'person.registered',
            data: {
              personId,
              storeId: store.storeId,
              accountId: store.accountId,
              emailIndex,
              sealed: sealPersonalFields(key, personId, fields),
              at: Date.now(),
            },
          }
        })
      } catch (error) {
        await keys.destroy(personId)
        throw error
      }
      return { personId, storeId: store.storeId, ...fields }
    },
    async findByEmail(storeId, email) {
      const [emailIndex] = await Promise.all([keys.emailIndex(storeId, email), catchUp()])
      const personId = byEmail.get(emailIndex)
      const state = personId ? people.get(personId) : undefined
      return state && state.storeId === storeId ? open(state) : null
    },
    async person(storeId, personId) {
      const state = await livePerson(storeId, personId)
      return state ? open(state) : null
    },
    async update(storeId, personId, fields) {
      const state = await livePerson(storeId, personId)
      const key = state && (await keys.get(personId))
      if (!state || !key) throw errors.notFound('the person')
      const emailIndex = await keys.emailIndex(storeId, fields.email)
      await appendToDirectory(storeId, () => {
        if (state.erased) throw errors.notFound('the person')
        if (emailTaken(emailIndex, personId)) {
          throw errors.conflict('this store already has a person with this e-mail address')
        }
        return {
          type: 'person.updated',
          data: {
            personId,
            emailIndex,
            sealed: sealPersonalFields(key, personId, fields),
            at: Date.now(),
          },
        }
      })
      return { personId, storeId, ...fields }
    },
    async erase(storeId, personId) {
      const state = await livePerson(storeId, personId)
      if (!state) throw errors.notFound('the person')
      const position = await appendToDirectory(storeId, () => {
        if (state.erased) throw errors.notFound('the person')
        return { type: 'person.erased', data: { personId, storeId, at: Date.now() } }
      })
      await keys.destroy(personId)
      return position
    },
    async eraseEvents(storeId, personId) {
      if (!(await livePerson(storeId, personId))) throw errors.notFound('the person')
      return appendToDirectory(storeId, () => ({
        type: 'person.events-erased',
        data: { personId, storeId, at: Date.now() },
      }))
    },
  }
}
