import { createHash, randomUUID } from 'node:crypto'
import type { ControlRecord, ControlStore, ExpectedRevision } from '@hourglass/log'
import {
  type AttributeDefinition,
  type ControlEvent,
  controlStreams,
  defaultSourceSettings,
  type EventDefined,
  type EventDefinitionInput,
  errors,
  eventCodeSlug,
  HourglassError,
  type SessionStarted,
  type SourceCreated,
  type SourceKind,
  type SourceSettings,
  type SourceSettingsChanged,
  type SourceTokenIssued,
} from '@hourglass/schemas'
import { hashSecret, mintApiToken, tokenExpired, tokenIdOf } from '../accounts/apiTokens.ts'
import { expiringGroups } from '../expiringEntries.ts'
import type { SourceQuotas } from '../settings/admissionConfig.ts'
import type { Source } from '../source.ts'

/** An event of a source's tracking plan. Its `eventCode` never changes. */
export interface EventDefinition {
  readonly eventCode: string
  readonly sourceId: string
  readonly accountId: string
  readonly name: string
  readonly attrs: readonly AttributeDefinition[]
  readonly definedAt: number
}

export interface Session {
  readonly sessionId: string
  readonly sourceId: string
  readonly startedAt: number
}

/** What ingest checks an event against, as of one moment of the control plane. */
export interface IngestRules {
  readonly settings: SourceSettings
  definition(name: string): EventDefinition | undefined
  sessionKnown(sessionId: string): boolean
}

/** Tracking plans, settings, extra API tokens and sessions of sources: the control-plane state of apps. */
export interface AppControl {
  /**
   * Creates a source whose id the caller derives (from an account and a name that must be
   * unique, say), so that two concurrent creations cannot both succeed: null when the id is taken.
   */
  claimSource(
    accountId: string,
    input: { sourceId: string; kind: SourceKind; name: string; settings?: SourceSettings },
  ): Promise<{ source: Source; apiToken: string } | null>
  /**
   * A new API token for the source, shown once, and its id; its earlier tokens stay valid until
   * they expire. A revoked source is refused one (403).
   */
  issueApiToken(source: Source): Promise<{ apiToken: string; tokenId: string }>
  /** Hashes of the source's live tokens issued after its first, with when each was issued, oldest first. */
  issuedTokens(sourceId: string): [tokenHash: string, issuedAt: number][]
  /**
   * Whether a token secret is one of the live tokens issued after the source's first; a 401
   * when it was one that has expired.
   */
  issuedTokenMatches(source: Source, secret: string): Promise<boolean>
  settings(sourceId: string): Promise<SourceSettings>
  changeSettings(source: Source, change: Partial<SourceSettings>): Promise<SourceSettings>
  /**
   * Adds events to a source's tracking plan, all or none. A name defined already with the
   * same attributes keeps its definition (and code); with other attributes it is a 409.
   */
  defineEvents(source: Source, events: readonly EventDefinitionInput[]): Promise<EventDefinition[]>
  listDefinitions(sourceId: string): Promise<EventDefinition[]>
  findDefinition(sourceId: string, eventCode: string): Promise<EventDefinition | null>
  /**
   * A new session of the source, with a random id unless one is given; a taken id is a 409 (an
   * expired session's id stays taken: its stream holds it); a revoked source is refused one (403).
   */
  startSession(source: Source, sessionId?: string): Promise<Session>
  /** A live session: null when unknown or expired. */
  findSession(sourceId: string, sessionId: string): Promise<Session | null>
  /** Live sessions of a source in the order they were started. */
  listSessions(sourceId: string): Promise<readonly Session[]>
  /**
   * The rules for a batch of events: brought up to date from the log first when the batch
   * names an event or a session not known here (another process may have defined it).
   */
  ingestRules(source: Source, events: readonly unknown[]): Promise<IngestRules>
  apply(event: AppControlEvent, record: ControlRecord): void
}

export type AppControlEvent = Extract<
  ControlEvent,
  { type: 'source.settings-changed' | 'source.token-issued' | 'event.defined' | 'session.started' }
>

export interface AppControlDeps {
  readonly control: ControlStore
  refresh(): Promise<void>
  /** `refresh` for telemetry: the followed view stands while the control store is away. */
  catchUpOrKeep(): Promise<void>
  lookup<T>(find: () => T | undefined): Promise<T | null>
  findSource(sourceId: string): Promise<Source | null>
  /** The 403 of a revoked source, as of the log's latest record. */
  refuseIfRevoked(sourceId: string): Promise<void>
  readonly quotas: SourceQuotas
  /** The clock sessions and tokens expire by (epoch ms). */
  readonly now: () => number
}

/** Attempts at a tracking-plan append before a conflicting writer is reported as a 409. */
const PLAN_APPEND_ATTEMPTS = 5

const sameAttributes = (a: readonly AttributeDefinition[], b: readonly AttributeDefinition[]) =>
  a.length === b.length && a.every((attr, i) => attr.name === b[i]!.name && attr.type === b[i]!.type)

/** Expired entries are looked for at most this often (and at least once per lifetime). */
const sweepEvery = (lifetimeMs: number) => Math.min(lifetimeMs, 60_000)

const sessionKey = (sessionId: string) => createHash('sha256').update(sessionId).digest('hex').slice(0, 40)

export function createAppControl({
  control,
  refresh,
  catchUpOrKeep,
  lookup,
  findSource,
  refuseIfRevoked,
  quotas,
  now,
}: AppControlDeps): AppControl {
  const settingsBySource = new Map<string, SourceSettings>()
  /** sourceId → hashes of the live tokens issued after its first → when each was issued. */
  const issuedTokens = expiringGroups<string, number>(
    { lifetimeMs: quotas.tokenLifetimeMs, now },
    (at) => at,
    sweepEvery(quotas.tokenLifetimeMs),
  )
  /** sourceId → event name → definition. */
  const plans = new Map<string, Map<string, EventDefinition>>()
  const definitionsByCode = new Map<string, EventDefinition>()
  /** Last revision of each source's tracking-plan stream: the next definitions expect it. */
  const planRevisions = new Map<string, number>()
  /** sourceId → live session id → when it started, in the order they started (no object per session). */
  const sessions = expiringGroups<string, number>(
    { lifetimeMs: quotas.sessionLifetimeMs, now },
    (at) => at,
    sweepEvery(quotas.sessionLifetimeMs),
  )

  const codeKey = (sourceId: string, eventCode: string) => `${sourceId}\u0000${eventCode}`
  const settingsOf = (sourceId: string) => settingsBySource.get(sourceId) ?? defaultSourceSettings
  const sessionOf = (sourceId: string, sessionId: string): Session | undefined => {
    const startedAt = sessions.of(sourceId)?.get(sessionId)
    return startedAt === undefined ? undefined : { sessionId, sourceId, startedAt }
  }

  /** A 429 once the source holds its quota (as of the log's latest record). */
  const checkQuota = async (what: 'sessions' | 'tokens', held: () => number) => {
    if (held() < quotas[what]) return
    await refresh()
    if (held() >= quotas[what])
      throw new HourglassError(
        'QUOTA_EXCEEDED',
        `the source holds ${quotas[what]} ${what}, as many as it may`,
      )
  }

  const append = async (stream: string, events: readonly ControlEvent[], expected: ExpectedRevision) => {
    const outcome = await control.appendToStream(
      stream,
      events.map(({ type, ...data }) => ({ type, data })),
      expected,
    )
    if (outcome.status === 'appended') await refresh()
    return outcome.status
  }

  return {
    apply(event, record) {
      switch (event.type) {
        case 'source.settings-changed':
          settingsBySource.set(event.sourceId, event.settings)
          break
        case 'source.token-issued':
          issuedTokens.add(event.sourceId, event.tokenHash, event.at)
          break
        case 'event.defined': {
          const definition: EventDefinition = {
            eventCode: event.eventCode,
            sourceId: event.sourceId,
            accountId: event.accountId,
            name: event.name,
            attrs: event.attrs,
            definedAt: event.at,
          }
          const plan = plans.get(event.sourceId) ?? new Map<string, EventDefinition>()
          plan.set(event.name, definition)
          plans.set(event.sourceId, plan)
          definitionsByCode.set(codeKey(event.sourceId, event.eventCode), definition)
          planRevisions.set(event.sourceId, record.revision)
          break
        }
        case 'session.started':
          sessions.add(event.sourceId, event.sessionId, event.at)
          break
      }
    },

    async claimSource(accountId, { sourceId, kind, name, settings }) {
      const { token, tokenHash } = mintApiToken(sourceId)
      const at = Date.now()
      const created: SourceCreated = {
        type: 'source.created',
        sourceId,
        accountId,
        kind,
        name,
        tokenHash,
        at,
      }
      const records: ControlEvent[] = [created]
      if (settings) records.push({ type: 'source.settings-changed', sourceId, settings, at })
      const status = await append(controlStreams.source(sourceId), records, 'no-stream')
      if (status === 'conflict') return null
      const source = await findSource(sourceId)
      if (!source) throw errors.unavailable('the new source is not readable yet; retry')
      return { source, apiToken: token }
    },

    async issueApiToken(source) {
      await refuseIfRevoked(source.sourceId)
      await checkQuota('tokens', () => issuedTokens.of(source.sourceId)?.size() ?? 0)
      const { token, tokenHash } = mintApiToken(source.sourceId)
      const event: SourceTokenIssued = {
        type: 'source.token-issued',
        sourceId: source.sourceId,
        tokenHash,
        at: now(),
      }
      // Tokens only add up, so concurrent issues need no expected revision.
      await append(controlStreams.source(source.sourceId), [event], 'any')
      return { apiToken: token, tokenId: tokenIdOf(tokenHash) }
    },

    issuedTokens: (sourceId) => issuedTokens.of(sourceId)?.live() ?? [],

    async issuedTokenMatches(source, secret) {
      const hash = hashSecret(secret)
      const matches = () => issuedTokens.of(source.sourceId)?.get(hash) !== undefined
      if (matches()) return true
      await refresh()
      if (matches()) return true
      // Expired tokens are forgotten here; the source's stream still tells them from wrong ones.
      const issued = await control.readStream(controlStreams.source(source.sourceId))
      const wasIssued = (record: ControlRecord) =>
        record.type === 'source.token-issued' && (record.data as { tokenHash?: unknown }).tokenHash === hash
      if (issued.some(wasIssued)) throw tokenExpired()
      return false
    },

    async settings(sourceId) {
      await refresh()
      return settingsOf(sourceId)
    },

    async changeSettings(source, change) {
      await refresh()
      const settings: SourceSettings = { ...settingsOf(source.sourceId), ...change }
      const event: SourceSettingsChanged = {
        type: 'source.settings-changed',
        sourceId: source.sourceId,
        settings,
        at: Date.now(),
      }
      // Each change records the whole settings: the last one appended wins.
      await append(controlStreams.source(source.sourceId), [event], 'any')
      return settings
    },

    async defineEvents(source, inputs) {
      for (let attempt = 0; attempt < PLAN_APPEND_ATTEMPTS; attempt++) {
        await refresh()
        const plan = plans.get(source.sourceId)
        const at = Date.now()
        const result: EventDefinition[] = []
        const added: EventDefined[] = []
        for (const input of inputs) {
          const attrs = input.attrs ?? []
          const existing = plan?.get(input.name)
          if (existing) {
            if (!sameAttributes(existing.attrs, attrs))
              throw errors.conflict(
                `"${input.name}" is defined already with other attributes (event code ${existing.eventCode}); ` +
                  'definitions do not change: define an event of another name',
              )
            result.push(existing)
            continue
          }
          const event: EventDefined = {
            type: 'event.defined',
            sourceId: source.sourceId,
            accountId: source.accountId,
            eventCode: `${eventCodeSlug(input.name)}-${randomUUID()}`,
            name: input.name,
            attrs,
            at,
          }
          added.push(event)
          result.push({
            eventCode: event.eventCode,
            sourceId: event.sourceId,
            accountId: event.accountId,
            name: event.name,
            attrs,
            definedAt: at,
          })
        }
        if (added.length === 0) return result
        const expected = planRevisions.get(source.sourceId) ?? 'no-stream'
        const status = await append(controlStreams.trackingPlan(source.sourceId), added, expected)
        if (status === 'appended') return result
      }
      throw errors.conflict('the tracking plan is being changed concurrently; retry')
    },

    async listDefinitions(sourceId) {
      await refresh()
      return [...(plans.get(sourceId)?.values() ?? [])].sort((a, b) => a.definedAt - b.definedAt)
    },

    findDefinition: (sourceId, eventCode) =>
      lookup(() => definitionsByCode.get(codeKey(sourceId, eventCode))),

    async startSession(source, sessionId = randomUUID()) {
      await refuseIfRevoked(source.sourceId)
      await checkQuota('sessions', () => sessions.of(source.sourceId)?.size() ?? 0)
      const event: SessionStarted = {
        type: 'session.started',
        sourceId: source.sourceId,
        accountId: source.accountId,
        sessionId,
        at: now(),
      }
      const status = await append(
        controlStreams.session(source.sourceId, sessionKey(sessionId)),
        [event],
        'no-stream',
      )
      if (status === 'conflict') throw errors.conflict(`the session "${sessionId}" exists already`)
      return { sessionId, sourceId: source.sourceId, startedAt: event.at }
    },

    findSession: (sourceId, sessionId) => lookup(() => sessionOf(sourceId, sessionId)),

    async listSessions(sourceId) {
      await refresh()
      return (sessions.of(sourceId)?.live() ?? []).map(([sessionId, startedAt]) => ({
        sessionId,
        sourceId,
        startedAt,
      }))
    },

    async ingestRules(source, events) {
      const { sourceId } = source
      const checksSessions = settingsOf(sourceId).unknownSessions === 'reject'
      const unknown = events.some((raw) => {
        if (typeof raw !== 'object' || raw === null) return false
        const { name, session } = raw as { name?: unknown; session?: unknown }
        return (
          (typeof name === 'string' && !plans.get(sourceId)?.has(name)) ||
          (checksSessions && typeof session === 'string' && !sessionOf(sourceId, session))
        )
      })
      if (unknown) await catchUpOrKeep()
      const plan = plans.get(sourceId)
      return {
        settings: settingsOf(sourceId),
        definition: (name) => plan?.get(name),
        sessionKnown: (sessionId) => sessionOf(sourceId, sessionId) !== undefined,
      }
    },
  }
}
