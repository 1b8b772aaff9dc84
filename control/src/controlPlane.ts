import { randomUUID } from 'node:crypto'
import type { ControlRecord, ControlStore, ExpectedRevision } from '@hourglass/log'
import {
  type AccountRegistered,
  type AnalystGranted,
  type AnalystRevoked,
  ControlEvent,
  controlStreams,
  errors,
  type IdentityErased,
  type MemberRegistered,
  type SourceCreated,
  type SourceKind,
  StoreStatusChanged,
} from '@hourglass/schemas'
import { hashSecret, mintApiToken, parseApiToken, secretMatches, tokenIdOf } from './accounts/apiTokens.ts'
import type { PasswordHasher } from './accounts/passwords.ts'
import { type AppControl, createAppControl } from './apps/appControl.ts'
import {
  apiTokenRevoked,
  createSourceRevocations,
  type SourceRevocations,
  sourceRevoked,
} from './apps/sourceRevocations.ts'
import { followControl } from './controlFollower.ts'
import { createDeviceFleets, type DeviceFleets } from './devices/deviceFleet.ts'
import type { PersonKeyStore } from './people/personalData.ts'
import { emailLookup, nameLookup, openIdentity, sealIdentity } from './people/sealedIdentity.ts'
import type { SourceQuotas } from './settings/admissionConfig.ts'
import type { Source } from './source.ts'
import { createTheEyeTokens, type TheEyeTokens } from './theEye/theEyeTokens.ts'

/** An account as the control plane keeps it: its holder's e-mail and name are sealed in the log, not here. */
export interface Account {
  readonly accountId: string
  readonly passwordHash: string
  readonly createdAt: number
}

export type { Source } from './source.ts'

/** A person who signs in with a username, and reads an account's data only through granted roles. */
export interface Member {
  readonly userId: string
  readonly username: string
  readonly passwordHash: string
  readonly createdAt: number
}

/** A member as kept in memory: the username sealed (or in clear, in records written before sealing). */
interface StoredMember {
  readonly userId: string
  readonly passwordHash: string
  readonly createdAt: number
  readonly username?: string
  readonly sealed?: string
}

/** Read side of the control plane that other services (the query API) depend on. */
export interface SourceDirectory {
  /** The source, if it belongs to this account. */
  findOwned(accountId: string, sourceId: string): Promise<Source | null>
  listOwned(accountId: string): Promise<Source[]>
}

export interface ControlPlane extends SourceDirectory {
  start(): Promise<void>
  registerAccount(input: { email: string; name: string; password: string }): Promise<Account>
  /** The account whose e-mail and password these are, or null. */
  checkPassword(email: string, password: string): Promise<Account | null>
  findAccount(accountId: string): Promise<Account | null>
  /**
   * Erases an account holder: their key is destroyed (their sealed e-mail and name can no longer
   * be read), their tokens and their sources' tokens are refused, and the e-mail address is free again.
   */
  eraseAccount(accountId: string): Promise<void>
  /** Erases a member: their key is destroyed, their tokens refused and their username free again. */
  eraseMember(userId: string): Promise<void>
  createSource(
    accountId: string,
    input: { kind: SourceKind; name: string },
  ): Promise<{ source: Source; apiToken: string; tokenId: string }>
  /**
   * The source an API token belongs to, or null for an unknown or wrong token; a 401 for a revoked
   * token; a 403 for the token of a revoked source or of a switched-off one (a store made
   * inactive), which sends nothing. Revocations and switches are as of the log's latest record.
   */
  authenticateSource(apiToken: string): Promise<Source | null>
  /** Whether the source is switched off, as of the log's latest record (another process may have done it). */
  isSwitchedOff(sourceId: string): Promise<boolean>
  /** A new member; a taken username is a 409. */
  registerMember(input: { username: string; password: string }): Promise<Member>
  /** The member whose username and password these are, or null. */
  checkMemberPassword(username: string, password: string): Promise<Member | null>
  findMember(userId: string): Promise<Member | null>
  findMemberByUsername(username: string): Promise<Member | null>
  /** Grants (true) or revokes (false) a member's analyst role in an account; a no-op when already so. */
  setAnalyst(accountId: string, userId: string, analyst: boolean): Promise<void>
  /** The accounts whose receipt analytics a member may read, as of the log's latest record. */
  analystAccounts(userId: string): Promise<string[]>
  /** The members with the analyst role in an account, with when it was granted. */
  listAnalysts(accountId: string): Promise<{ member: Member; grantedAt: number }[]>
  /** Users and device bindings of device fleets (sources of kind `device`). */
  readonly devices: DeviceFleets
  /** Tracking plans, settings, extra API tokens and sessions of sources (apps, sites). */
  readonly apps: AppControl
  /** The Eye's tokens (seed 002), which live until revoked or expired. */
  readonly theEyeTokens: TheEyeTokens
  /** Revoked sources and API tokens. */
  readonly revocations: SourceRevocations
}

export const normaliseEmail = (email: string) => email.trim().toLowerCase()

/** The map key of a name written in clear (before sealing), apart from keyed hashes. */
const inClear = <T extends string | undefined>(name: T) =>
  (name === undefined ? undefined : `clear:${name}`) as T

/**
 * Accounts and sources: commands append to control-plane streams with an expected revision
 * (so two sign-ups with one e-mail cannot both succeed); the current state is a fold of
 * those records, kept in memory and brought up to date from the log when asked for
 * something it does not know yet (another process may have written it).
 */
export function createControlPlane(
  control: ControlStore,
  options: {
    passwords: PasswordHasher
    keys: PersonKeyStore
    quotas: SourceQuotas
    /** The clock sessions and tokens expire by (epoch ms); the system's unless a test sets one. */
    now?: () => number
  },
): ControlPlane {
  const { passwords, keys, quotas, now = Date.now } = options
  const accounts = new Map<string, Account>()
  /** By keyed hash of the e-mail address, or by the address itself for records written before sealing. */
  const accountsByEmail = new Map<string, Account>()
  const sources = new Map<string, Source>()
  const members = new Map<string, StoredMember>()
  /** By keyed hash of the username, or by the username itself for records written before sealing. */
  const membersByUsername = new Map<string, StoredMember>()
  /** accountId → userId → when the analyst role was granted. */
  const analysts = new Map<string, Map<string, number>>()
  /** Sources that may not send: stores made inactive. */
  const switchedOff = new Set<string>()
  /** Accounts erased: their sources send nothing. */
  const erasedAccounts = new Set<string>()
  /** Everyone erased (account holders, members, device users), whose names are free again. */
  const erased = new Set<string>()
  /** The key each account and member is found by, to forget it when they are erased. */
  const lookupKeys = new Map<string, string>()

  /** Forgets an erased account or member (device users are the fleets'). */
  const forget = (event: IdentityErased) => {
    const key = lookupKeys.get(event.id)
    erased.add(event.id)
    if (event.kind === 'account') {
      erasedAccounts.add(event.id)
      accounts.delete(event.id)
      if (key !== undefined && accountsByEmail.get(key)?.accountId === event.id) accountsByEmail.delete(key)
    } else if (event.kind === 'member') {
      members.delete(event.id)
      if (key !== undefined && membersByUsername.get(key)?.userId === event.id) membersByUsername.delete(key)
    } else devices.forgetUser(event.id)
    lookupKeys.delete(event.id)
  }

  const apply = (record: ControlRecord) => {
    if (record.type === 'store.status-changed') {
      const status = StoreStatusChanged.safeParse({ ...(record.data as object), type: record.type })
      if (status.success && status.data.isActive) switchedOff.delete(status.data.storeId)
      else if (status.success) switchedOff.add(status.data.storeId)
      return
    }
    const parsed = ControlEvent.safeParse({ ...(record.data as object), type: record.type })
    if (!parsed.success) return
    const event = parsed.data
    switch (event.type) {
      case 'account.registered': {
        const account = toAccount(event)
        accounts.set(account.accountId, account)
        const emailKey = event.emailIndex ?? inClear(event.email)
        if (emailKey !== undefined) {
          accountsByEmail.set(emailKey, account)
          lookupKeys.set(account.accountId, emailKey)
        }
        break
      }
      case 'source.created':
        sources.set(event.sourceId, toSource(event))
        break
      case 'member.registered': {
        const member = toStoredMember(event)
        members.set(member.userId, member)
        const usernameKey = event.usernameIndex ?? inClear(event.username)
        if (usernameKey !== undefined) {
          membersByUsername.set(usernameKey, member)
          lookupKeys.set(member.userId, usernameKey)
        }
        break
      }
      case 'analyst.granted':
      case 'analyst.revoked':
        applyAnalystRole(analysts, event)
        break
      case 'device-user.registered':
      case 'device.bound':
        devices.apply(event, record)
        break
      case 'source.revoked':
      case 'source.token-revoked':
        revocations.apply(event)
        break
      case 'source.settings-changed':
      case 'source.token-issued':
      case 'event.defined':
      case 'session.started':
        apps.apply(event, record)
        break
      case 'eye-token.issued':
      case 'eye-token.revoked':
        theEyeTokens.apply(event)
        break
      case 'identity.erased':
        forget(event)
        break
    }
  }

  const { refresh, catchUpOrKeep } = followControl(control, apply)

  const isSwitchedOff = async (sourceId: string) => {
    await catchUpOrKeep()
    return switchedOff.has(sourceId)
  }

  /** A lookup that, on a miss, reads what other processes may have appended, then looks again. */
  const lookup = async <T>(find: () => T | undefined): Promise<T | null> => {
    const found = find()
    if (found !== undefined) return found
    await refresh()
    return find() ?? null
  }

  const appendControl = async (
    stream: string,
    event: ControlEvent,
    expected: ExpectedRevision = 'no-stream',
  ) => {
    const { type, ...data } = event
    const outcome = await control.appendToStream(stream, [{ type, data }], expected)
    if (outcome.status === 'appended') await refresh()
    return outcome.status
  }

  /**
   * The revision a registration expects of a name's stream: none, or the last one when whoever
   * took the name last has been erased. A name still taken expects none, and so conflicts.
   */
  const revisionToRegister = async (stream: string): Promise<ExpectedRevision> => {
    const last = (await control.readStream(stream)).at(-1)
    if (!last) return 'no-stream'
    const { userId, accountId } = last.data as { userId?: unknown; accountId?: unknown }
    const holder = userId ?? accountId
    return typeof holder === 'string' && erased.has(holder) ? last.revision : 'no-stream'
  }

  /** Records the erasure, then destroys the key (a crash between the two is made good at the next start). */
  const eraseIdentity = async (kind: IdentityErased['kind'], id: string) => {
    const event: IdentityErased = { type: 'identity.erased', kind, id, at: Date.now() }
    await appendControl(controlStreams.identityErased(id), event, 'any')
    await keys.destroy(id)
  }

  const devices = createDeviceFleets({
    refresh,
    catchUpOrKeep,
    lookup,
    append: appendControl,
    passwords,
    keys,
    revisionToRegister,
    eraseIdentity,
  })
  const theEyeTokens = createTheEyeTokens(
    { refresh, append: appendControl, readStream: (stream) => control.readStream(stream) },
    { lifetimeMs: quotas.tokenLifetimeMs, now },
  )
  /** The account of an e-mail address, sealed or (written before sealing) in clear. */
  const accountByEmail = async (email: string) => {
    const index = await emailLookup(keys, 'accounts', email)
    return lookup(() => accountsByEmail.get(index) ?? accountsByEmail.get(inClear(normaliseEmail(email))))
  }

  const storedMemberByUsername = async (username: string) => {
    const index = await nameLookup(keys, 'members', username)
    return lookup(() => membersByUsername.get(index) ?? membersByUsername.get(inClear(username)))
  }

  /** The member with their username opened; null once erased. */
  const revealMember = async (stored: StoredMember | null): Promise<Member | null> => {
    if (!stored) return null
    const fields = stored.sealed ? await openIdentity(keys, 'member', stored.userId, stored.sealed) : null
    const username = stored.username ?? fields?.username
    return username === undefined ? null : { ...stored, username }
  }

  /** A member found by the username they gave: nothing to open. */
  const memberNamed = (stored: StoredMember | null, username: string): Member | null =>
    stored ? { ...stored, username } : null

  const revocations = createSourceRevocations({
    refresh,
    catchUpOrKeep,
    append: appendControl,
    issuedTokens: (sourceId) => apps.issuedTokens(sourceId),
    now,
  })
  const apps = createAppControl({
    control,
    refresh,
    catchUpOrKeep,
    lookup,
    findSource: (sourceId) => lookup(() => sources.get(sourceId)),
    refuseIfRevoked: revocations.refuseIfRevoked,
    quotas,
    now,
  })

  return {
    start: refresh,
    devices,
    apps,
    theEyeTokens,
    revocations,
    async registerAccount({ email, name, password }) {
      const taken = () => errors.conflict('an account with this e-mail address already exists')
      if (await accountByEmail(email)) throw taken()
      const accountId = randomUUID()
      const emailIndex = await emailLookup(keys, 'accounts', email)
      const event: AccountRegistered = {
        type: 'account.registered',
        accountId,
        emailIndex,
        sealed: await sealIdentity(keys, 'account', accountId, { email: normaliseEmail(email), name }),
        passwordHash: await passwords.hash(password),
        at: Date.now(),
      }
      const stream = controlStreams.accountByEmail(emailIndex)
      const status = await appendControl(stream, event, await revisionToRegister(stream))
      if (status === 'conflict') {
        await keys.destroy(accountId)
        throw taken()
      }
      return toAccount(event)
    },
    async checkPassword(email, password) {
      const account = await accountByEmail(email)
      const matches = await passwords.verify(password, account?.passwordHash ?? null)
      return account && matches ? account : null
    },
    findAccount: (accountId) => lookup(() => accounts.get(accountId)),
    eraseAccount: (accountId) => eraseIdentity('account', accountId),
    eraseMember: (userId) => eraseIdentity('member', userId),
    async createSource(accountId, { kind, name }) {
      const sourceId = randomUUID()
      const { token, tokenHash } = mintApiToken(sourceId)
      const event: SourceCreated = {
        type: 'source.created',
        sourceId,
        accountId,
        kind,
        name,
        tokenHash,
        at: Date.now(),
      }
      await appendControl(controlStreams.source(sourceId), event)
      return { source: toSource(event), apiToken: token, tokenId: tokenIdOf(tokenHash) }
    },
    async authenticateSource(apiToken) {
      const parsed = parseApiToken(apiToken)
      if (!parsed) return null
      const source = await lookup(() => sources.get(parsed.sourceId))
      if (!source || erasedAccounts.has(source.accountId)) return null
      const matches =
        secretMatches(parsed.secret, source.tokenHash) ||
        (await apps.issuedTokenMatches(source, parsed.secret))
      if (!matches) return null
      // A revocation or a switch through another process counts at once: the check reads the log.
      await catchUpOrKeep()
      if (revocations.revokedAt(source.sourceId) !== null) throw sourceRevoked()
      if (revocations.tokenRevoked(source.sourceId, hashSecret(parsed.secret))) throw apiTokenRevoked()
      if (switchedOff.has(source.sourceId)) throw errors.forbidden('this store is inactive')
      return source
    },
    isSwitchedOff,
    async findOwned(accountId, sourceId) {
      const source = await lookup(() => sources.get(sourceId))
      return source?.accountId === accountId ? source : null
    },
    async listOwned(accountId) {
      await refresh()
      return [...sources.values()]
        .filter((s) => s.accountId === accountId)
        .sort((a, b) => a.createdAt - b.createdAt)
    },
    async registerMember({ username, password }) {
      const taken = () => errors.conflict('a user with this username already exists')
      if (await storedMemberByUsername(username)) throw taken()
      const userId = randomUUID()
      const usernameIndex = await nameLookup(keys, 'members', username)
      const event: MemberRegistered = {
        type: 'member.registered',
        userId,
        usernameIndex,
        sealed: await sealIdentity(keys, 'member', userId, { username }),
        passwordHash: await passwords.hash(password),
        at: Date.now(),
      }
      const stream = controlStreams.memberByUsername(usernameIndex)
      const status = await appendControl(stream, event, await revisionToRegister(stream))
      if (status === 'conflict') {
        await keys.destroy(userId)
        throw taken()
      }
      return { ...toStoredMember(event), username }
    },
    async checkMemberPassword(username, password) {
      const member = await storedMemberByUsername(username)
      const matches = await passwords.verify(password, member?.passwordHash ?? null)
      return member && matches ? memberNamed(member, username) : null
    },
    findMember: async (userId) => revealMember(await lookup(() => members.get(userId))),
    findMemberByUsername: async (username) => memberNamed(await storedMemberByUsername(username), username),
    async setAnalyst(accountId, userId, analyst) {
      // Roles must be current: a revocation written by another process counts at once.
      await refresh()
      if (analysts.get(accountId)?.has(userId) === analyst) return
      const event: AnalystGranted | AnalystRevoked = {
        type: analyst ? 'analyst.granted' : 'analyst.revoked',
        accountId,
        userId,
        at: Date.now(),
      }
      await appendControl(controlStreams.analystRole(accountId, userId), event, 'any')
    },
    async analystAccounts(userId) {
      await refresh()
      return [...analysts].filter(([, users]) => users.has(userId)).map(([accountId]) => accountId)
    },
    async listAnalysts(accountId) {
      await refresh()
      const granted = [...(analysts.get(accountId) ?? [])]
      const revealed = await Promise.all(
        granted.map(async ([userId, grantedAt]) => ({
          member: await revealMember(members.get(userId) ?? null),
          grantedAt,
        })),
      )
      return revealed
        .filter((entry): entry is { member: Member; grantedAt: number } => entry.member !== null)
        .sort((a, b) => a.member.username.localeCompare(b.member.username))
    },
  }
}

const applyAnalystRole = (
  analysts: Map<string, Map<string, number>>,
  event: AnalystGranted | AnalystRevoked,
) => {
  const users = analysts.get(event.accountId) ?? new Map<string, number>()
  if (event.type === 'analyst.granted') users.set(event.userId, event.at)
  else users.delete(event.userId)
  analysts.set(event.accountId, users)
}

const toStoredMember = (event: MemberRegistered): StoredMember => ({
  userId: event.userId,
  passwordHash: event.passwordHash,
  createdAt: event.at,
  ...(event.username === undefined ? {} : { username: event.username }),
  ...(event.sealed === undefined ? {} : { sealed: event.sealed }),
})

const toAccount = (event: AccountRegistered): Account => ({
  accountId: event.accountId,
  passwordHash: event.passwordHash,
  createdAt: event.at,
})

const toSource = (event: SourceCreated): Source => ({
  sourceId: event.sourceId,
  accountId: event.accountId,
  kind: event.kind,
  name: event.name,
  tokenHash: event.tokenHash,
  createdAt: event.at,
})
