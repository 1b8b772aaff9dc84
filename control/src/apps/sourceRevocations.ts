import type { ExpectedRevision } from '@hourglass/log'
import {
  type ControlEvent,
  controlStreams,
  errors,
  type SourceRevoked,
  type SourceTokenRevoked,
} from '@hourglass/schemas'
import { tokenIdOf } from '../accounts/apiTokens.ts'
import type { Source } from '../source.ts'

/** An API token of a source as its owner sees it: never the secret, nor the whole hash. */
export interface ApiTokenEntry {
  readonly tokenId: string
  readonly createdAt: number
  /** When it was revoked; null while it is valid. */
  readonly revokedAt: number | null
}

/**
 * Revoked sources and revoked API tokens. A revoked source sends nothing, with any credential:
 * its tokens, new sessions and new tokens are refused; what it sent before stays. A revoked token
 * is refused while the source's other tokens stay valid.
 */
export interface SourceRevocations {
  /** Revokes the source at once, everywhere; false when it was revoked already. */
  revokeSource(source: Source): Promise<boolean>
  /** When the source was revoked, as of the records followed so far. */
  revokedAt(sourceId: string): number | null
  /**
   * The 403 of a revoked source, as of the log's latest record (another process may have revoked
   * it); while the control store does not answer, as of the records followed so far.
   */
  refuseIfRevoked(sourceId: string): Promise<void>
  /** Whether one token of the source (by its hash) is revoked, as of the records followed so far. */
  tokenRevoked(sourceId: string, tokenHash: string): boolean
  /** The source's first token and its live issued tokens, oldest first. */
  listApiTokens(source: Source): Promise<ApiTokenEntry[]>
  /** Revokes one token at once, everywhere (a no-op when revoked already); null when the source has no such token. */
  revokeApiToken(source: Source, tokenId: string): Promise<ApiTokenEntry | null>
  apply(event: SourceRevoked | SourceTokenRevoked): void
}

export interface SourceRevocationDeps {
  refresh(): Promise<void>
  /** `refresh` for telemetry: the followed view stands while the control store is away. */
  catchUpOrKeep(): Promise<void>
  append(stream: string, event: ControlEvent, expected?: ExpectedRevision): Promise<'appended' | 'conflict'>
  /** Hashes of the source's live tokens issued after its first, with when each was issued, oldest first. */
  issuedTokens(sourceId: string): readonly (readonly [tokenHash: string, issuedAt: number])[]
  /** The clock revocations are dated by (epoch ms). */
  readonly now: () => number
}

export const sourceRevoked = () =>
  errors.forbidden('the source has been revoked: it sends nothing, with any credential')

export const apiTokenRevoked = () => errors.unauthenticated('the API token has been revoked')

export function createSourceRevocations(deps: SourceRevocationDeps): SourceRevocations {
  /** sourceId → when it was revoked. */
  const revokedSources = new Map<string, number>()
  /** sourceId → token hash → when it was revoked. */
  const revokedTokens = new Map<string, Map<string, number>>()

  const tokensOf = (source: Source): ApiTokenEntry[] => {
    const revoked = revokedTokens.get(source.sourceId)
    const entry = (tokenHash: string, createdAt: number): ApiTokenEntry => ({
      tokenId: tokenIdOf(tokenHash),
      createdAt,
      revokedAt: revoked?.get(tokenHash) ?? null,
    })
    return [
      entry(source.tokenHash, source.createdAt),
      ...deps.issuedTokens(source.sourceId).map(([tokenHash, issuedAt]) => entry(tokenHash, issuedAt)),
    ]
  }

  const hashOf = (source: Source, tokenId: string) =>
    [source.tokenHash, ...deps.issuedTokens(source.sourceId).map(([tokenHash]) => tokenHash)].find(
      (tokenHash) => tokenIdOf(tokenHash) === tokenId,
    )

  return {
    apply(event) {
      if (event.type === 'source.revoked') {
        // Of two revocations recorded concurrently, the first counts.
        if (!revokedSources.has(event.sourceId)) revokedSources.set(event.sourceId, event.at)
        return
      }
      const revoked = revokedTokens.get(event.sourceId) ?? new Map<string, number>()
      if (!revoked.has(event.tokenHash)) revoked.set(event.tokenHash, event.at)
      revokedTokens.set(event.sourceId, revoked)
    },

    async revokeSource(source) {
      await deps.refresh()
      if (revokedSources.has(source.sourceId)) return false
      const event: SourceRevoked = { type: 'source.revoked', sourceId: source.sourceId, at: deps.now() }
      await deps.append(controlStreams.source(source.sourceId), event, 'any')
      return true
    },

    revokedAt: (sourceId) => revokedSources.get(sourceId) ?? null,

    async refuseIfRevoked(sourceId) {
      await deps.catchUpOrKeep()
      if (revokedSources.has(sourceId)) throw sourceRevoked()
    },

    tokenRevoked: (sourceId, tokenHash) => revokedTokens.get(sourceId)?.has(tokenHash) ?? false,

    async listApiTokens(source) {
      await deps.refresh()
      return tokensOf(source)
    },

    async revokeApiToken(source, tokenId) {
      await deps.refresh()
      const tokenHash = hashOf(source, tokenId)
      if (tokenHash === undefined) return null
      if (!revokedTokens.get(source.sourceId)?.has(tokenHash)) {
        const event: SourceTokenRevoked = {
          type: 'source.token-revoked',
          sourceId: source.sourceId,
          tokenHash,
          at: deps.now(),
        }
        await deps.append(controlStreams.source(source.sourceId), event, 'any')
      }
      return tokensOf(source).find((token) => token.tokenId === tokenId) ?? null
    },
  }
}
