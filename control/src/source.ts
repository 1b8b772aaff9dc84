import type { SourceKind } from '@hourglass/schemas'

/** A source of telemetry (an app, store, device fleet, place or site) as the control plane knows it. */
export interface Source {
  readonly sourceId: string
  readonly accountId: string
  readonly kind: SourceKind
  readonly name: string
  readonly tokenHash: string
  readonly createdAt: number
}
