import { z } from 'zod'

/** An event as The Eye (seed 002) shows it, written or read; `id` is the event's position in the log. */
export const TheEyeEvent = z.object({
  id: z.number(),
  session_id: z.string(),
  category: z.string(),
  name: z.string(),
  data: z.record(z.string(), z.unknown()),
  timestamp: z.string(),
})
export type TheEyeEvent = z.infer<typeof TheEyeEvent>
