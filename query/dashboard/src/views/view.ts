import type { Api, Source, SourceKind } from '../api.ts'
import type { TimeRange } from '../timeRange.ts'

/** What a view is given: the API, the chosen source, and the range and zone of the toolbar. */
export interface ViewContext {
  readonly api: Api
  readonly source: Source
  /** The toolbar's range now (presets move with the clock). */
  range(): TimeRange
  zone(): string
  /** Asks the shell to refresh the view now (after a change of the view's own controls). */
  requestRefresh(): void
}

export interface MountedView {
  /** Reads the API again and updates in place; called on mount, on every toolbar change and when live. */
  refresh(): Promise<void>
  destroy(): void
}

/**
 * A page of the dashboard. Adding one is a file exporting a `ViewDefinition` and a line in
 * `views/index.ts`; the shell gives it a tab for the kinds of source it serves.
 */
export interface ViewDefinition {
  /** In the URL: #/sources/<id>/<view id>. */
  readonly id: string
  readonly label: string
  /** The kinds of source it shows, or every kind. */
  readonly kinds: readonly SourceKind[] | 'all'
  /** Whether live mode refreshes it every few seconds. */
  readonly live: boolean
  mount(container: HTMLElement, context: ViewContext): MountedView
}

export const servesKind = (view: ViewDefinition, kind: SourceKind) =>
  view.kinds === 'all' || view.kinds.includes(kind)
