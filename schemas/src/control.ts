import { z } from 'zod'
import { SourceKind } from './telemetry.ts'
import { AttrType, SourceSettings } from './trackingPlan.ts'

/** A route's path naming one source: `/v1/sources/:id/…`. */
export const SourceParams = z.object({ id: z.string().min(1).max(64) })

/**
 * Control-plane events: accounts and sources. Each aggregate is one stream of the log,
 * appended with an expected revision so that concurrent commands cannot both win.
 */
/**
 * Personal fields are sealed under the person's own key (`sealed`: their e-mail and name) and
 * found by keyed hash (`emailIndex`); records written before sealing hold them in clear.
 */
export const AccountRegistered = z.object({
  type: z.literal('account.registered'),
  accountId: z.string(),
  email: z.string().optional(),
  name: z.string().optional(),
  emailIndex: z.string().optional(),
  sealed: z.string().optional(),
  passwordHash: z.string(),
  at: z.number().int(),
})

export const SourceCreated = z.object({
  type: z.literal('source.created'),
  sourceId: z.string(),
  accountId: z.string(),
  kind: SourceKind,
  name: z.string(),
  /** SHA-256 of the API token's secret part; the token itself is shown once and never stored. */
  tokenHash: z.string(),
  at: z.number().int(),
})

/**
 * A member: a person who signs in with a username and password (seed 003's users) and reads
 * an account's data only through roles that the account's admin grants. Usernames are unique
 * across Hourglass: one stream per username (hashed).
 */
export const MemberRegistered = z.object({
  type: z.literal('member.registered'),
  userId: z.string(),
  /** In clear only in records written before sealing; now `sealed`, found by `usernameIndex`. */
  username: z.string().optional(),
  usernameIndex: z.string().optional(),
  sealed: z.string().optional(),
  passwordHash: z.string(),
  at: z.number().int(),
})

/** The account's admin (its holder) lets a member read the account's receipt analytics. */
export const AnalystGranted = z.object({
  type: z.literal('analyst.granted'),
  accountId: z.string(),
  userId: z.string(),
  at: z.number().int(),
})

export const AnalystRevoked = z.object({
  type: z.literal('analyst.revoked'),
  accountId: z.string(),
  userId: z.string(),
  at: z.number().int(),
})

/** A user of a device fleet (seed 004's users), who can own the fleet's devices. */
export const DeviceUserRegistered = z.object({
  type: z.literal('device-user.registered'),
  userId: z.string(),
  accountId: z.string(),
  sourceId: z.string(),
  /** In clear only in records written before sealing; now `sealed`, found by `nameIndex`. */
  name: z.string().optional(),
  nameIndex: z.string().optional(),
  sealed: z.string().optional(),
  passwordHash: z.string(),
  at: z.number().int(),
})

/**
 * A device's owner from `effectiveFrom` on (null: nobody). The first binding registers the
 * device; a reading is attributed to the binding in force at the reading's own timestamp.
 */
export const DeviceBound = z.object({
  type: z.literal('device.bound'),
  accountId: z.string(),
  sourceId: z.string(),
  deviceId: z.string(),
  userId: z.string().nullable(),
  effectiveFrom: z.number().int(),
  at: z.number().int(),
})

/** How ingest treats undefined events and unknown sessions from now on (source stream). */
export const SourceSettingsChanged = z.object({
  type: z.literal('source.settings-changed'),
  sourceId: z.string(),
  settings: SourceSettings,
  at: z.number().int(),
})

/** One more API token for a source (source stream); earlier tokens stay valid. */
export const SourceTokenIssued = z.object({
  type: z.literal('source.token-issued'),
  sourceId: z.string(),
  /** SHA-256 of the new token's secret part, as for `source.created`. */
  tokenHash: z.string(),
  at: z.number().int(),
})

/**
 * A source revoked by its account (source stream): from `at` on, every credential of the source is
 * refused (its API tokens, new sessions, new tokens). What it sent before stays.
 */
export const SourceRevoked = z.object({
  type: z.literal('source.revoked'),
  sourceId: z.string(),
  at: z.number().int(),
})

/** One API token of a source revoked (source stream): that token is refused, the others stay valid. */
export const SourceTokenRevoked = z.object({
  type: z.literal('source.token-revoked'),
  sourceId: z.string(),
  /** SHA-256 of the token's secret part, as it was recorded when the token was made. */
  tokenHash: z.string(),
  at: z.number().int(),
})

/** An event of a source's tracking plan (tracking-plan stream). Definitions do not change once made. */
export const EventDefined = z.object({
  type: z.literal('event.defined'),
  sourceId: z.string(),
  accountId: z.string(),
  eventCode: z.string(),
  name: z.string(),
  attrs: z.array(z.object({ name: z.string(), type: AttrType })),
  at: z.number().int(),
})

/** A session of a source that events may name (one stream per session). */
export const SessionStarted = z.object({
  type: z.literal('session.started'),
  sourceId: z.string(),
  accountId: z.string(),
  sessionId: z.string(),
  at: z.number().int(),
})

/**
 * A token of The Eye's API (seed 002): like Django REST framework's, it lives until revoked (or it
 * expires, HOURGLASS_ISSUED_TOKEN_LIFETIME_SECONDS after `at`). It
 * speaks for an account, through one of its members when `memberId` is set; only its SHA-256 is kept.
 */
export const EyeTokenIssued = z.object({
  type: z.literal('eye-token.issued'),
  tokenHash: z.string(),
  accountId: z.string(),
  memberId: z.string().nullable(),
  at: z.number().int(),
})

export const EyeTokenRevoked = z.object({
  type: z.literal('eye-token.revoked'),
  tokenHash: z.string(),
  at: z.number().int(),
})

/**
 * An account holder, member or device user erased: their key is destroyed, so what was sealed
 * under it (e-mail, names) can no longer be read, and they no longer sign in.
 */
export const IdentityErased = z.object({
  type: z.literal('identity.erased'),
  kind: z.enum(['account', 'member', 'device-user']),
  id: z.string(),
  at: z.number().int(),
})

export const ControlEvent = z.discriminatedUnion('type', [
  AccountRegistered,
  SourceCreated,
  SourceSettingsChanged,
  SourceTokenIssued,
  SourceRevoked,
  SourceTokenRevoked,
  EventDefined,
  SessionStarted,
  MemberRegistered,
  AnalystGranted,
  AnalystRevoked,
  DeviceUserRegistered,
  DeviceBound,
  EyeTokenIssued,
  EyeTokenRevoked,
  IdentityErased,
])
export type ControlEvent = z.infer<typeof ControlEvent>
export type AccountRegistered = z.infer<typeof AccountRegistered>
export type SourceCreated = z.infer<typeof SourceCreated>
export type SourceSettingsChanged = z.infer<typeof SourceSettingsChanged>
export type SourceTokenIssued = z.infer<typeof SourceTokenIssued>
export type SourceRevoked = z.infer<typeof SourceRevoked>
export type SourceTokenRevoked = z.infer<typeof SourceTokenRevoked>
export type EventDefined = z.infer<typeof EventDefined>
export type SessionStarted = z.infer<typeof SessionStarted>
export type MemberRegistered = z.infer<typeof MemberRegistered>
export type AnalystGranted = z.infer<typeof AnalystGranted>
export type AnalystRevoked = z.infer<typeof AnalystRevoked>
export type DeviceUserRegistered = z.infer<typeof DeviceUserRegistered>
export type DeviceBound = z.infer<typeof DeviceBound>
export type EyeTokenIssued = z.infer<typeof EyeTokenIssued>
export type EyeTokenRevoked = z.infer<typeof EyeTokenRevoked>
export type IdentityErased = z.infer<typeof IdentityErased>

export const controlStreams = {
  /** One stream per e-mail address (hashed), so that signing up twice with one address conflicts. */
  accountByEmail: (emailHash: string) => `account-email-${emailHash}`,
  source: (sourceId: string) => `source-config-${sourceId}`,
  /** All event definitions of a source: one stream, so a batch of definitions is appended atomically. */
  trackingPlan: (sourceId: string) => `tracking-plan-${sourceId}`,
  /** `sessionKey` is a hash of the session id, which producers choose and may be long. */
  session: (sourceId: string, sessionKey: string) => `session-${sourceId}-${sessionKey}`,
  /** One stream per user name (hashed) within a device fleet, so that a name is taken once. */
  deviceUserByName: (sourceId: string, nameHash: string) => `device-user-${sourceId}-${nameHash}`,
  /** A device's bindings: appended with its revision, so two concurrent re-binds cannot both win. */
  device: (sourceId: string, deviceId: string) => `device-${sourceId}-${deviceId}`,
  /** One stream per username (hashed): registering a taken username conflicts. */
  memberByUsername: (usernameHash: string) => `member-username-${usernameHash}`,
  /** Grants and revocations of one member's analyst role in one account, in order. */
  analystRole: (accountId: string, userId: string) => `analyst-role-${accountId}-${userId}`,
  /** One stream per The Eye token (by its hash): issued, then perhaps revoked. */
  eyeToken: (tokenHash: string) => `eye-token-${tokenHash}`,
  /** The erasure of an account holder, member or device user (by id). */
  identityErased: (id: string) => `identity-erased-${id}`,
}
