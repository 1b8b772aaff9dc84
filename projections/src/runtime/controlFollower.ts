import { LogUnavailableError } from '@hourglass/log'
import type { Logger } from 'pino'
import type { ControlView } from './controlView.ts'

/** How often an idle worker looks for new control records (erasures) and replay requests. */
export const IDLE_REFRESH_MS = 1_000

/**
 * Keeps the worker's control view up to date (at most once a second unless forced). While the
 * control store does not answer, batches go on with the view as followed so far: its head is
 * their cut, so whatever is read later (an erasure, say) comes after them, as if appended after
 * them. Answers the view's head.
 */
export function followControl(view: Pick<ControlView, 'refresh' | 'head'>, logger: Logger) {
  let readAt = Number.NEGATIVE_INFINITY
  let away = false
  return async (force: boolean): Promise<number> => {
    if (!force && performance.now() - readAt < IDLE_REFRESH_MS) return view.head()
    try {
      const head = await view.refresh()
      readAt = performance.now()
      if (away) logger.info('the control store answers again')
      away = false
      return head
    } catch (error) {
      if (!(error instanceof LogUnavailableError)) throw error
      if (!away)
        logger.warn(
          { err: error },
          'the control store does not answer; projecting with the control records read so far',
        )
      away = true
      return view.head()
    }
  }
}
