import { type ControlRecord, type ControlStore, LogUnavailableError } from '@hourglass/log'

export interface ControlFollower {
  /** Applies every control record appended since the last call; concurrent calls share one read. */
  refresh(): Promise<void>
  /**
   * Like `refresh`, but also sees records appended while a refresh already under way was
   * reading: it waits for that one (its failure is its caller's), then reads again.
   */
  catchUp(): Promise<void>
  /**
   * `catchUp` for what telemetry needs (a source's tracking plan, a device's binding, whether a
   * store is switched off): while the control store does not answer, the view stays as followed
   * so far instead of failing. Nobody can append while it is away, so that view lacks at most
   * what was appended just before it went.
   */
  catchUpOrKeep(): Promise<void>
}

/** Resolves when `work` does, or when it fails because the control store does not answer. */
const keepingIfAway = async (work: () => Promise<void>) => {
  try {
    await work()
  } catch (error) {
    if (!(error instanceof LogUnavailableError)) throw error
  }
}

/** Folds the control store's records into an in-memory view with `apply`, in their global order. */
export function followControl(
  control: Pick<ControlStore, 'readAll'>,
  apply: (record: ControlRecord) => void,
): ControlFollower {
  let next = 0
  let refreshing: Promise<void> | null = null
  const refresh = () => {
    refreshing ??= (async () => {
      try {
        for (;;) {
          const batch = await control.readAll(next, 1000)
          if (batch.length === 0) return
          for (const record of batch) apply(record)
          next = batch[batch.length - 1]!.position + 1
        }
      } finally {
        refreshing = null
      }
    })()
    return refreshing
  }
  const catchUp = async () => {
    if (refreshing) await refreshing.catch(() => undefined)
    return refresh()
  }
  return { refresh, catchUp, catchUpOrKeep: () => keepingIfAway(catchUp) }
}
