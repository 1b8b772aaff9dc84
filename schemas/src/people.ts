import { z } from 'zod'

/**
 * Control-plane events of stores and the people they know. Personal fields never appear
 * here in clear: they travel sealed (AES-256-GCM) with a key per person that erasure destroys.
 */
export const StoreStatusChanged = z.object({
  type: z.literal('store.status-changed'),
  storeId: z.string(),
  isActive: z.boolean(),
  at: z.number().int(),
})

export const PersonRegistered = z.object({
  type: z.literal('person.registered'),
  personId: z.string(),
  storeId: z.string(),
  accountId: z.string(),
  /** Keyed hash of store and e-mail: finds a person by e-mail without holding the address. */
  emailIndex: z.string(),
  /** The personal fields, sealed with the person's key. */
  sealed: z.string(),
  at: z.number().int(),
})

export const PersonUpdated = z.object({
  type: z.literal('person.updated'),
  personId: z.string(),
  emailIndex: z.string(),
  sealed: z.string(),
  at: z.number().int(),
})

/** The person and all their events are erased; their key is destroyed. */
export const PersonErased = z.object({
  type: z.literal('person.erased'),
  personId: z.string(),
  storeId: z.string(),
  at: z.number().int(),
})

/** The person's events recorded before this record are erased; the person stays. */
export const PersonEventsErased = z.object({
  type: z.literal('person.events-erased'),
  personId: z.string(),
  storeId: z.string(),
  at: z.number().int(),
})

export const PeopleEvent = z.discriminatedUnion('type', [
  StoreStatusChanged,
  PersonRegistered,
  PersonUpdated,
  PersonErased,
  PersonEventsErased,
])
export type PeopleEvent = z.infer<typeof PeopleEvent>

export const peopleStreams = {
  storeStatus: (storeId: string) => `store-status-${storeId}`,
  /**
   * A store's people directory: every registration, update and erasure of its people, in
   * one stream, so that appending at the expected revision keeps e-mails unique per store.
   */
  storePeople: (storeId: string) => `store-people-${storeId}`,
}

/** The personal fields of a person, as sealed. */
export const PersonalFields = z.object({
  email: z.string(),
  username: z.string(),
  firstName: z.string(),
  lastName: z.string(),
  phone: z.string(),
})
export type PersonalFields = z.infer<typeof PersonalFields>

/** The log record type of a store event. */
export const STORE_EVENT = 'store.event'

/** A store event as the log holds it: it names the person by id only. */
export const StoreEvent = z.object({
  accountId: z.string(),
  storeId: z.string(),
  personId: z.string(),
  type: z.string(),
  data: z.record(z.string(), z.unknown()),
  timestamp: z.number().int(),
})
export type StoreEvent = z.infer<typeof StoreEvent>

/** Record types whose effect on projections is an erasure. */
export const ERASURE_TYPES = ['person.erased', 'person.events-erased'] as const
